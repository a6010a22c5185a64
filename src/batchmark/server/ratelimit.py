"""Submissions per token per time window, counted in the database, so that the limit holds however many
server processes (`batchmark serve --workers N`) share it.

A sliding window: a token may submit `limit` times in any `window` seconds; the next attempt is told, in
Retry-After, when the oldest one in the window expires. One token's attempts are counted one at a time
across processes: SQLite's BEGIN IMMEDIATE serializes every write, and on PostgreSQL the token's row is locked
(SELECT ... FOR UPDATE) for the count, so two workers cannot both let the last allowed attempt through.
"""

from __future__ import annotations

import math
import time

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from batchmark.server.queries import one_writer
from batchmark.store import History
from batchmark.store.tables import SubmissionAttempt, UploadToken


class RateLimiter:
    def __init__(self, history: History, limit: int, window_seconds: float, clock=time.time):
        self.history = history
        self.limit = limit
        self.window = window_seconds
        self.clock = clock  # wall-clock seconds: the one clock that every process on every machine shares

    def acquire(self, token_id: int) -> float | None:
        """Count one attempt for the token; None if allowed, else the seconds until one would be."""
        now = self.clock()
        attempts = SubmissionAttempt.__table__.c
        with one_writer(self.history), Session(self.history.engine) as session, session.begin():
            session.execute(select(UploadToken.id).where(UploadToken.id == token_id).with_for_update())
            session.execute(delete(SubmissionAttempt).where(attempts.token_id == token_id,
                                                            attempts.attempted_at <= now - self.window))
            count, oldest = session.execute(select(func.count(), func.min(attempts.attempted_at))
                                            .where(attempts.token_id == token_id)).one()
            if count >= self.limit:
                return oldest + self.window - now
            session.add(SubmissionAttempt(token_id=token_id, attempted_at=now))
        return None


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
