"""The version of batchmark, apart from the package's __init__ so that low layers can read it without
importing the public API."""

__version__ = "0.1.0"
