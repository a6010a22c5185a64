"""Submissions per token per time window, counted in this server process (one uvicorn worker).

A sliding window: a token may submit `limit` times in any `window` seconds; the next attempt is told, in
Retry-After, when the oldest one in the window expires. Several server processes would each keep their own
count, so the limit would multiply by their number (batchmark serve runs one).
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque


class RateLimiter:
    def __init__(self, limit: int, window_seconds: float, clock=time.monotonic):
        self.limit = limit
        self.window = window_seconds
        self.clock = clock
        self.attempts: dict[int, deque[float]] = defaultdict(deque)
        self.lock = threading.Lock()

    def acquire(self, key: int) -> float | None:
        """Count one attempt for `key`; None if allowed, else the seconds until one would be."""
        now = self.clock()
        with self.lock:
            attempts = self.attempts[key]
            while attempts and attempts[0] <= now - self.window:
                attempts.popleft()
            if len(attempts) >= self.limit:
                return attempts[0] + self.window - now
            attempts.append(now)
            return None


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
