"""How a long piece of work tells its caller what is happening: one object with a method per kind of news.

The library never prints. The CLI passes an Events that draws a progress bar and prints lines; a notebook
can pass one that logs, or none at all (every method does nothing by default).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: importing them here would pull the engine into `import batchmark`
    from batchmark.engine.runner import Job
    from batchmark.results import Row


class Events:
    def say(self, line: str) -> None:
        """A line of news: "calibrating …", "tuning mobilenetv3 · torch …", a tuner's step."""

    def warn(self, line: str) -> None:
        """Something the user should act on, the work going on regardless."""

    def suite_started(self, jobs: list[Job]) -> None:
        """The rows about to be measured, in order."""

    def row_started(self, index: int, job: Job) -> None:
        """Row `index` (from 0) of the suite is starting."""

    def row_progress(self, message: str) -> None:
        """What the row's worker is doing now: "building", "warm-up 1/2", "step 3 (4.1s of 10s)"."""

    def row_finished(self, row: Row) -> None:
        """A row is measured (or failed) and saved."""

    def tuned(self, outcome) -> None:
        """One (workload, framework) is tuned, found cached, or failed to tune: a `batchmark.api.tuning.TuneOutcome`
        (not imported here: tuning imports this module)."""
