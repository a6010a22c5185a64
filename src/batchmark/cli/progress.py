"""The library's news (`batchmark.api.Events`) on the terminal: a progress bar over a run's rows, lines for the rest."""

from __future__ import annotations

from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

from batchmark.api.events import Events
from batchmark.cli.app import console, errors, say


class ProgressEvents(Events):
    """The run's news on the terminal: a progress bar over the rows, warnings and notes as lines."""

    def __init__(self):
        # Time remaining from the average row so far: rows take minutes, so the speed is averaged over an
        # hour (Rich's default 30 s window would hold no finished row and show nothing).
        self.bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(), console=errors,
                            transient=True, speed_estimate_period=3600)
        self.task = None
        self.label = ""

    def say(self, line: str) -> None:
        say(line)

    def warn(self, line: str) -> None:
        say(f"warning: {line}")

    def suite_started(self, jobs) -> None:
        self.bar.start()
        self.task = self.bar.add_task("starting", total=len(jobs))

    def row_started(self, index: int, job) -> None:
        self.label = f"{job.workload} · {job.framework} · {job.plan_label}"
        self.bar.update(self.task, description=self.label)

    def row_progress(self, message: str) -> None:
        self.bar.update(self.task, description=f"{self.label}: {message}")

    def row_finished(self, row) -> None:
        self.bar.advance(self.task)

    def tuned(self, outcome) -> None:
        from batchmark.cli.render_tuning import print_tune_outcome  # the tuner's modules: only when tuning

        print_tune_outcome(outcome, console)

    def stop(self) -> None:
        self.bar.stop()
