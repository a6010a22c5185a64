"""`batchmark serve`, `token` and `submit`: the shared leaderboard, its upload tokens, and uploading a run.

The server and its database are the admin's; `submit` reads a run from the user's own history and sends it
only when asked. The server's modules (FastAPI, uvicorn) are imported only by these commands.
"""

from __future__ import annotations

import os
from typing import Annotated, Optional

import typer

from batchmark.cli.app import BatchmarkTyper, DatabaseOption, RunArgument, app, console, say
from batchmark.errors import UsageError

LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")

ServerDatabaseOption = Annotated[Optional[str], typer.Option(
    "--db", envvar="BATCHMARK_SERVER_DATABASE", show_envvar=True,
    help="The server's database: a SQLAlchemy URL (postgresql://user@host/db) or a SQLite file path. Default: "
         "leaderboard.sqlite in the user data directory.")]

token_app = BatchmarkTyper(no_args_is_help=True, help="Upload tokens for a leaderboard server (admin).")
app.add_typer(token_app, name="token")


def open_server_database(database: str | None):
    from batchmark.server.settings import default_database
    from batchmark.store import open_history

    return open_history(database or default_database())


@app.command()
def serve(
    database: ServerDatabaseOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on; 0.0.0.0 for every interface.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port.")] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level: info logs every request.")] = "info",
    workers: Annotated[int, typer.Option(min=1, max=64, help=(
        "Server processes (uvicorn workers), for more pages a second on more cores. They share the database, "
        "the rate limits in it and the data version that keeps their page caches right."))] = 1,
) -> None:
    """The shared leaderboard: web pages and the JSON API (docs at /docs). Reads are public; uploads need a token."""
    try:
        import uvicorn

        from batchmark.server.main import create_app
        from batchmark.server.settings import ServerSettings
    except ImportError as error:
        from batchmark.api.upload import SERVER_EXTRA

        raise UsageError(f"the server needs the [server] extra ({error.name} is missing): {SERVER_EXTRA}") from None
    from pydantic import ValidationError

    from batchmark.store.database import describe, resolve_url

    if log_level not in LOG_LEVELS:
        raise UsageError(f"--log-level {log_level!r}: allowed are {', '.join(LOG_LEVELS)}")
    try:
        settings = ServerSettings(**({"database": database} if database else {}))
    except ValidationError as error:
        first = error.errors()[0]
        raise UsageError(f"BATCHMARK_SERVER_{str(first['loc'][0]).upper()}: {first['msg']}") from None
    application = create_app(settings)  # opens (creates, upgrades) the database once, before any worker starts
    say(f"serving the leaderboard of {describe(resolve_url(settings.database))} on http://{host}:{port}"
        + (f" with {workers} worker processes" if workers > 1 else ""))
    if workers == 1:
        uvicorn.run(application, host=host, port=port, log_level=log_level)
        return
    # Each worker builds its own app from the same settings, which reach it through the environment.
    application.state.history.close()
    os.environ["BATCHMARK_SERVER_DATABASE"] = settings.database
    uvicorn.run("batchmark.server.main:create_app", factory=True, workers=workers, host=host, port=port,
                log_level=log_level)


@token_app.command("create")
def token_create(name: Annotated[str, typer.Argument(help="Who the token is for, e.g. alice-laptop.")],
                 database: ServerDatabaseOption = None) -> None:
    """Make an upload token. It is printed once, here; the server keeps only its hash."""
    from batchmark.store.tokens import create_token

    info, text = create_token(open_server_database(database), name)
    print(text)
    say(f"token {info.name!r} created: give it to its owner now, it cannot be shown again "
        f"(batchmark submit RUN --server URL --token TOKEN, or BATCHMARK_TOKEN)")


@token_app.command("list")
def token_list(database: ServerDatabaseOption = None) -> None:
    """The tokens by name, when made, and whether revoked (never the tokens themselves)."""
    from batchmark.store.tokens import list_tokens

    for token in list_tokens(open_server_database(database)):
        console.print(f"{token.name}\t{token.created_at:%Y-%m-%d %H:%M}\t{'revoked' if token.revoked else 'active'}",
                      highlight=False, markup=False, soft_wrap=True)


@token_app.command("revoke")
def token_revoke(name: Annotated[str, typer.Argument(help="The token's name.")],
                 database: ServerDatabaseOption = None) -> None:
    """Revoke a token: its next upload is refused (401). Runs it uploaded stay."""
    from batchmark.store.tokens import revoke_token

    revoke_token(open_server_database(database), name)
    say(f"token {name!r} revoked")


@app.command()
def submit(
    run: RunArgument,
    server: Annotated[Optional[str], typer.Option(envvar="BATCHMARK_SERVER", show_envvar=True,
                                                  help="The leaderboard's URL, e.g. https://leaderboard.example.org.")] = None,
    token: Annotated[Optional[str], typer.Option(envvar="BATCHMARK_TOKEN", show_envvar=True,
                                                 help="Your upload token (the variable keeps it out of shell history).")] = None,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds to wait for the server.")] = 60,
    allow_partial: Annotated[bool, typer.Option(
        "--allow-partial", help="Submit a run that did not finish (interrupted or killed), marked interrupted.")] = False,
    database: DatabaseOption = None,
) -> None:
    """Upload one run from your history to a leaderboard server: its fingerprint, rows and raw samples."""
    from batchmark.api.upload import submit as send

    sent = send(run, server, token, timeout=timeout, database=database, allow_partial=allow_partial)
    stored = "submitted" if sent.stored else "already on the server (nothing new stored):"
    verified = "verified" if sent.verified else "UNVERIFIED, kept off the leaderboard"
    say(f"{stored} run {sent.run_id} ({sent.rows} rows), {verified}: {sent.url}")
    for reason in sent.reasons:
        say(f"  unverified because: {reason}")
