"""The library API: what each `batchmark` command does, as functions that return typed results."""
