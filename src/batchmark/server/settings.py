"""The server's settings, from `batchmark serve`'s options or BATCHMARK_SERVER_* environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_FILE = "leaderboard.sqlite"  # beside the history in the user data directory


def default_database() -> str:
    from batchmark.store.database import default_database_path

    return str(default_database_path().with_name(DEFAULT_DATABASE_FILE))


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BATCHMARK_SERVER_")

    # A SQLAlchemy URL or a SQLite file path: PostgreSQL in production, a SQLite file on a laptop.
    database: str = Field(default_factory=default_database)
    # A standard run (20 rows with every raw sample) is about 100 KB; 8 MiB leaves room for long runs and
    # still refuses a body that only wants to fill the server's memory.
    max_body_bytes: int = Field(default=8 * 2**20, ge=1024)
    # A person submits a run or two an hour; 60 an hour lets a CI job upload a matrix and still stops a loop.
    submissions_per_window: int = Field(default=60, ge=1)
    rate_window_seconds: float = Field(default=3600.0, gt=0)
    # Runs that fail the plausibility check are kept off the leaderboard unless asked for (?include_unverified).
    include_unverified: bool = False
    # The whole body must arrive within this: a standard run (~100 KB) takes well under a second on any link,
    # and 30 s still carries the largest body at ~2 Mbit/s; a client that sends slower holds a connection and
    # memory for nothing (408).
    body_seconds: float = Field(default=30.0, gt=0)
    # Bytes of rendered pages kept per server process, each valid until the next submission changes the data:
    # a few hundred pages and API answers, the ones read most; 0 turns the cache off.
    page_cache_bytes: int = Field(default=64 * 2**20, ge=0)
