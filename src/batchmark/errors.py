"""One tree of errors with a meaning for the user: each carries its exit code and becomes one line, never a
traceback. Anything else that escapes is a bug, and keeps its traceback.

    BatchmarkError                 exit 1: the work was tried and did not succeed
    ├── UsageError                 exit 2: bad input, found before any work; the message says what is allowed
    │   ├── UnknownNameError       a name that does not exist; the message lists those that do
    │   ├── ResultsFormatError     a results JSON this batchmark cannot read
    │   ├── StoreError             a history database that cannot be opened or read
    │   └── CompareError           two runs that cannot be compared as asked
    ├── CalibrationError           the peak could not be measured
    ├── TuneFailed                 not even the baseline plan ran
    ├── SubmitRefused              the leaderboard refused a run, or could not be reached
    ├── Unsupported                a plan this device or framework cannot run: its row is recorded, the rest go on
    └── Interrupted                exit 130: Ctrl-C; the rows finished so far are saved
        └── Terminated             exit 143: SIGTERM (`kill`, a CI time-out), the same otherwise
"""

from __future__ import annotations

import difflib

EXIT_FAILED = 1  # run: a row failed; compare: a significant regression; tune: a workload could not be tuned
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a process ended by `kill`


class BatchmarkError(Exception):
    """An outcome the user must hear about in one line; `exit_code` is what the command exits with."""

    exit_code = EXIT_FAILED


class UsageError(BatchmarkError, ValueError):
    """Bad input: what was wrong and what is allowed."""

    exit_code = EXIT_USAGE


class UnknownNameError(UsageError):
    """A user asked for a name that does not exist; the message lists what does."""


class ResultsFormatError(UsageError):
    """A results JSON that this batchmark cannot read: malformed, or of a schema version it does not know."""


class StoreError(UsageError):
    """The history database cannot be opened, upgraded or read; the message is one line."""


class CompareError(UsageError):
    """Invalid input to a comparison; the message says what is allowed."""


class CalibrationError(BatchmarkError):
    """The calibration subprocess failed; the message is one line."""


class TuneFailed(BatchmarkError):
    """Not even the baseline plan could be measured: there is nothing to tune against."""


class SubmitRefused(BatchmarkError):
    """The leaderboard refused the run, or could not be reached."""


class Unsupported(BatchmarkError):
    """This plan cannot run on this device or framework; the row is recorded as 'unsupported'."""


class Interrupted(BatchmarkError):
    """Ctrl-C or SIGTERM: the rows finished so far are saved; the row in flight is recorded as interrupted."""

    exit_code = EXIT_INTERRUPTED


class Terminated(Interrupted):
    """SIGTERM: handled as Ctrl-C is, but said so, with the exit code a shell shows for it."""

    exit_code = EXIT_TERMINATED


def unknown(kind: str, name: str, allowed: list[str]) -> UnknownNameError:
    close = difflib.get_close_matches(name, allowed, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return UnknownNameError(f"unknown {kind} '{name}'.{hint} Allowed: {', '.join(allowed)}.")
