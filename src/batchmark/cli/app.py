"""The Typer app and what every command shares: consoles, the one error handler, `--db`, list options.

Every command is registered through `app.command` / `token_app.command` of `BatchmarkTyper`, which wraps it
in `one_line_errors`: a `BatchmarkError` from anywhere in the library becomes one line on stderr and the
exit code the error carries. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import sys
from typing import Annotated, Callable, Optional

import typer
from rich.console import Console

from batchmark.errors import BatchmarkError, Interrupted

# Piped output (a log, a CI job) is not wrapped at 80 columns: the results table is about 220 wide.
console = Console(width=None if sys.stdout.isatty() else 240)
errors = Console(stderr=True)


def say(line: str) -> None:
    """A plain line on stderr: text from users and exceptions is never read as Rich markup."""
    errors.print(line, highlight=False, markup=False, soft_wrap=True)


def one_line_errors(command: Callable) -> Callable:
    @functools.wraps(command)  # Typer reads the options from the wrapped function's signature
    def guarded(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except Interrupted as error:
            say(str(error) or "interrupted")
            raise typer.Exit(error.exit_code) from None
        except BatchmarkError as error:
            say(f"error: {error}")
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt as stop:  # Ctrl-C or SIGTERM where nothing was running that could keep a result
            from batchmark.engine.lifetime import interruption

            stopped = interruption(stop)
            say(str(stopped))
            raise typer.Exit(stopped.exit_code) from None
    return guarded


class BatchmarkTyper(typer.Typer):
    def command(self, *args, **kwargs):
        register = super().command(*args, **kwargs)
        return lambda function: register(one_line_errors(function))


app = BatchmarkTyper(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                     help="Seconds per training batch, honestly timed, for any machine, framework and device.")

DatabaseOption = Annotated[Optional[str], typer.Option(
    "--db", envvar="BATCHMARK_DB", show_envvar=True,
    help="The history database: a SQLAlchemy URL (sqlite:///..., postgresql://user@host/db) or a SQLite file "
         "path. Default: history.sqlite in the user data directory.")]
RunArgument = Annotated[str, typer.Argument(help="A run id, a unique prefix of one, latest, or latest~N.")]


def split_list(value: str) -> list[str]:
    """Comma-separated names, each once, in the order given."""
    return list(dict.fromkeys(item.strip() for item in value.split(",") if item.strip()))
