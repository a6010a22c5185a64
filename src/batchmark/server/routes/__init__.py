"""One router per resource; `pages` serves the HTML of the same data."""
