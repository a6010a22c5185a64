"""The Typer app and what every command shares: consoles, exit codes, one-line usage errors, `--db`."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Optional

import typer
from rich.console import Console

from batchmark.errors import UsageError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Seconds per training batch, honestly timed, for any machine, framework and device.")
# Piped output has no terminal width to fit: let tables be as wide as they need (Rich would assume 80).
# Piped output (a log, a CI job) is not wrapped at 80 columns: the results table is about 220 wide.
console = Console(width=None if sys.stdout.isatty() else 240)
errors = Console(stderr=True)

EXIT_FAILED_ROWS = 1  # run: a row failed; compare: a significant regression
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
PLUGINS_VARIABLE = "BATCHMARK_PLUGINS"  # comma-separated modules that register extra workloads

DatabaseOption = Annotated[Optional[str], typer.Option(
    "--db", envvar="BATCHMARK_DB", show_envvar=True,
    help="The history database: a SQLAlchemy URL (sqlite:///..., postgresql://user@host/db) or a SQLite file "
         "path. Default: history.sqlite in the user data directory.")]


def fail_usage(message: str) -> typer.Exit:
    errors.print(f"error: {message}", highlight=False, markup=False, soft_wrap=True)
    return typer.Exit(EXIT_USAGE)


def load_plugins() -> list[str]:
    import importlib

    modules = [name.strip() for name in os.environ.get(PLUGINS_VARIABLE, "").split(",") if name.strip()]
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise UsageError(f"{PLUGINS_VARIABLE}: cannot import '{module}': {error}") from None
    return modules


def split_list(value: str) -> list[str]:
    """Comma-separated names, each once, in the order given."""
    return list(dict.fromkeys(item.strip() for item in value.split(",") if item.strip()))


def open_history_or_exit(database: str | None):
    """The history, or a one-line error and exit 2 (a corrupt file, an unreachable server, a newer schema)."""
    from batchmark.store import StoreError, open_history

    try:
        return open_history(database)
    except StoreError as error:
        raise fail_usage(str(error))
