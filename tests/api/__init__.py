"""The library API, used as a notebook or a script would: no CLI."""
