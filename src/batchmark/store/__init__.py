"""The results history: a SQL database (SQLite by default, PostgreSQL for a team) of every run."""

from batchmark.errors import StoreError
from batchmark.store.database import DATABASE_VARIABLE, default_database_path
from batchmark.store.history import History, HistoryRecorder, StoredRun, open_history

__all__ = ["DATABASE_VARIABLE", "History", "HistoryRecorder", "StoredRun", "StoreError", "default_database_path",
           "open_history"]
