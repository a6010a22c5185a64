"""`batchmark serve`, `token` and `submit`: the shared leaderboard, its upload tokens, and uploading a run.

The server and its database are the admin's; `submit` reads a run from the user's own history and sends it
only when asked. The server's modules (FastAPI, uvicorn) are imported only by these commands.
"""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from batchmark.cli.app import DatabaseOption, app, console, errors, fail_usage
from batchmark.cli.history import RunArgument, load_run

EXIT_REFUSED = 1  # the server refused the run, or could not be reached
SERVER_EXTRA = "pip install -c constraints.txt -e '.[server]'"

ServerDatabaseOption = Annotated[Optional[str], typer.Option(
    "--db", envvar="BATCHMARK_SERVER_DATABASE", show_envvar=True,
    help="The server's database: a SQLAlchemy URL (postgresql://user@host/db) or a SQLite file path. Default: "
         "leaderboard.sqlite in the user data directory.")]

token_app = typer.Typer(no_args_is_help=True, help="Upload tokens for a leaderboard server (admin).")
app.add_typer(token_app, name="token")


def open_server_database(database: str | None):
    from batchmark.server.settings import default_database
    from batchmark.store import StoreError, open_history

    try:
        return open_history(database or default_database())
    except StoreError as error:
        raise fail_usage(str(error))


@app.command()
def serve(
    database: ServerDatabaseOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on; 0.0.0.0 for every interface.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port.")] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level: info logs every request.")] = "info",
) -> None:
    """The shared leaderboard: web pages and the JSON API (docs at /docs). Reads are public; uploads need a token."""
    try:
        import uvicorn

        from batchmark.server.main import create_app
        from batchmark.server.settings import ServerSettings
    except ImportError as error:
        raise fail_usage(f"the server needs the [server] extra ({error.name} is missing): {SERVER_EXTRA}")
    from pydantic import ValidationError

    from batchmark.store import StoreError
    from batchmark.store.database import describe, resolve_url

    if log_level not in ("critical", "error", "warning", "info", "debug", "trace"):
        raise fail_usage(f"--log-level {log_level!r}: allowed are critical, error, warning, info, debug, trace")
    try:
        settings = ServerSettings(**({"database": database} if database else {}))
        application = create_app(settings)
    except StoreError as error:
        raise fail_usage(str(error))
    except ValidationError as error:
        first = error.errors()[0]
        raise fail_usage(f"BATCHMARK_SERVER_{str(first['loc'][0]).upper()}: {first['msg']}")
    errors.print(f"serving the leaderboard of {describe(resolve_url(settings.database))} on http://{host}:{port}",
                 highlight=False, markup=False, soft_wrap=True)
    uvicorn.run(application, host=host, port=port, log_level=log_level)


@token_app.command("create")
def token_create(name: Annotated[str, typer.Argument(help="Who the token is for, e.g. alice-laptop.")],
                 database: ServerDatabaseOption = None) -> None:
    """Make an upload token. It is printed once, here; the server keeps only its hash."""
    from batchmark.store import StoreError
    from batchmark.store.tokens import create_token

    try:
        info, text = create_token(open_server_database(database), name)
    except StoreError as error:
        raise fail_usage(str(error))
    print(text)
    errors.print(f"token {info.name!r} created: give it to its owner now, it cannot be shown again "
                 f"(batchmark submit RUN --server URL --token TOKEN, or BATCHMARK_TOKEN)", highlight=False,
                 markup=False, soft_wrap=True)


@token_app.command("list")
def token_list(database: ServerDatabaseOption = None) -> None:
    """The tokens by name, when made, and whether revoked (never the tokens themselves)."""
    from batchmark.store import StoreError
    from batchmark.store.tokens import list_tokens

    try:
        tokens = list_tokens(open_server_database(database))
    except StoreError as error:
        raise fail_usage(str(error))
    for token in tokens:
        console.print(f"{token.name}\t{token.created_at:%Y-%m-%d %H:%M}\t{'revoked' if token.revoked else 'active'}",
                      highlight=False, markup=False, soft_wrap=True)


@token_app.command("revoke")
def token_revoke(name: Annotated[str, typer.Argument(help="The token's name.")],
                 database: ServerDatabaseOption = None) -> None:
    """Revoke a token: its next upload is refused (401). Runs it uploaded stay."""
    from batchmark.store import StoreError
    from batchmark.store.tokens import revoke_token

    try:
        revoke_token(open_server_database(database), name)
    except StoreError as error:
        raise fail_usage(str(error))
    errors.print(f"token {name!r} revoked", highlight=False, markup=False, soft_wrap=True)


@app.command()
def submit(
    run: RunArgument,
    server: Annotated[Optional[str], typer.Option(envvar="BATCHMARK_SERVER", show_envvar=True,
                                                  help="The leaderboard's URL, e.g. https://leaderboard.example.org.")] = None,
    token: Annotated[Optional[str], typer.Option(envvar="BATCHMARK_TOKEN", show_envvar=True,
                                                 help="Your upload token (the variable keeps it out of shell history).")] = None,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds to wait for the server.")] = 60,
    database: DatabaseOption = None,
) -> None:
    """Upload one run from your history to a leaderboard server: its fingerprint, rows and raw samples."""
    from batchmark.cli.app import open_history_or_exit

    if not server:
        raise fail_usage("--server URL (or BATCHMARK_SERVER) is required: the leaderboard to submit to")
    if not server.startswith(("http://", "https://")):
        raise fail_usage(f"--server {server!r} must be an http:// or https:// URL")
    if not token:
        raise fail_usage("--token (or BATCHMARK_TOKEN) is required: the server's admin gives you one")
    try:
        import httpx
    except ImportError:
        raise fail_usage(f"submit needs httpx, part of the [server] extra: {SERVER_EXTRA}")
    results = load_run(open_history_or_exit(database), run)
    endpoint = server.rstrip("/") + "/api/v1/runs"
    try:
        # json.dumps, not model_dump_json: a diverged loss stays NaN (pydantic would write null, not a number).
        response = httpx.post(endpoint, content=json.dumps(results.model_dump()).encode(), timeout=timeout,
                              headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    except (httpx.HTTPError, ValueError) as error:
        errors.print(f"error: cannot reach {server}: {error or type(error).__name__}", highlight=False, markup=False,
                     soft_wrap=True)
        raise typer.Exit(EXIT_REFUSED)
    answer = parse_answer(response)
    if response.status_code >= 400:
        detail = answer.get("detail") if isinstance(answer.get("detail"), str) else response.text[:300]
        errors.print(f"error: {server} refused run {results.run_id}: HTTP {response.status_code}: "
                     f"{' '.join(str(detail).split())}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_REFUSED)
    stored = "submitted" if answer.get("stored") else "already on the server (nothing new stored):"
    verified = "verified" if answer.get("verified") else "UNVERIFIED, kept off the leaderboard"
    errors.print(f"{stored} run {results.run_id} ({len(results.rows)} rows), {verified}: {answer.get('url', server)}",
                 highlight=False, markup=False, soft_wrap=True)
    for reason in answer.get("reasons") or []:
        errors.print(f"  unverified because: {reason}", highlight=False, markup=False, soft_wrap=True)


def parse_answer(response) -> dict:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}
