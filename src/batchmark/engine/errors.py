"""Errors with a meaning for the user: each becomes one line of output, never a traceback."""


class UsageError(ValueError):
    """Bad input: the CLI prints the message and exits with code 2."""


class Unsupported(RuntimeError):
    """This plan cannot run on this device or framework; the row is recorded as 'unsupported'."""
