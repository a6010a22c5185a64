"""The `batchmark` command: one function per subcommand, each module a group of them.

Frameworks are never imported here: `--help`, `list` and `info` stay instant, and `run` leaves every
framework to its worker processes.
"""

from batchmark.cli import suite, tune, history, analysis  # noqa: F401,I001  (registers the commands, in help order)
from batchmark.cli import server  # noqa: F401,I001  (serve, token and submit: the shared leaderboard)
from batchmark.cli.app import app


def main() -> None:
    app()
