"""A leaderboard app per test on a fresh database (SQLite, and PostgreSQL when reachable), and its tokens."""

from __future__ import annotations

import warnings

import pytest

from batchmark.server.main import create_app
from batchmark.server.settings import ServerSettings
from batchmark.store import open_history
from batchmark.store.tokens import create_token

with warnings.catch_warnings():  # Starlette 1.x suggests httpx2 for its test client; httpx still works
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def make_client(database: str, **settings) -> TestClient:
    return TestClient(create_app(ServerSettings(database=database, **settings)))


@pytest.fixture
def server_database(database_url):
    return database_url


@pytest.fixture
def token(server_database) -> str:
    history = open_history(server_database)
    _, text = create_token(history, "alice")
    history.close()
    return text


@pytest.fixture
def client(server_database, token):
    with make_client(server_database) as test_client:
        yield test_client


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
