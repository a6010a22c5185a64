"""The results history: a SQL database (SQLite by default, PostgreSQL for a team) of every run."""

from batchmark.store.database import DATABASE_VARIABLE, StoreError, default_database_path
from batchmark.store.history import History, HistoryRecorder, RunSummary, open_history

__all__ = ["DATABASE_VARIABLE", "History", "HistoryRecorder", "RunSummary", "StoreError", "default_database_path",
           "open_history"]
