"""One router per resource; `pages` serves the HTML of the same data. Routes never import each other: what
two of them show is built once in server/views.py (an import-linter contract keeps it so)."""
