"""Upload tokens for a leaderboard server: made by its admin, shown once, stored only as a sha256 hash.

A token is 32 random bytes (`secrets.token_urlsafe`), so a fast unsalted hash is enough: nobody can guess
one from its hash, and a database that leaks gives away no token that still works elsewhere.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from batchmark.store.database import StoreError, explain, reader
from batchmark.store.history import History
from batchmark.store.tables import UploadToken

TOKEN_BYTES = 32  # 256 bits of randomness: no brute force, no rate limit needed on guessing
NAME_LENGTH = UploadToken.__table__.c.name.type.length


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    created_at: dt.datetime
    revoked: bool


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _info(token: UploadToken) -> TokenInfo:
    return TokenInfo(token.id, token.name, token.created_at, token.revoked)


def create_token(history: History, name: str) -> tuple[TokenInfo, str]:
    """A new token named `name`; returns it with its text, which is never stored and cannot be shown again."""
    name = name.strip()
    if not name or len(name) > NAME_LENGTH or "\x00" in name:
        raise StoreError(f"token name {name!r} must be 1 to {NAME_LENGTH} characters")
    text = secrets.token_urlsafe(TOKEN_BYTES)
    token = UploadToken(name=name, token_sha256=token_hash(text), created_at=dt.datetime.now(dt.timezone.utc),
                        revoked=False)
    try:
        with Session(history.engine, expire_on_commit=False) as session, session.begin():
            session.add(token)
    except IntegrityError:
        raise StoreError(f"a token named {name!r} exists already in {history.location}; choose another name "
                         f"(`batchmark token list` shows them)") from None
    except SQLAlchemyError as error:
        raise explain(error, history.engine.url) from None
    return _info(token), text


def list_tokens(history: History) -> list[TokenInfo]:
    try:
        with Session(history.engine) as session:
            return [_info(token) for token in session.scalars(select(UploadToken).order_by(UploadToken.id))]
    except SQLAlchemyError as error:
        raise explain(error, history.engine.url) from None


def revoke_token(history: History, name: str) -> TokenInfo:
    try:
        with Session(history.engine, expire_on_commit=False) as session, session.begin():
            token = session.scalars(select(UploadToken).where(UploadToken.name == name)).first()
            if token is None:
                raise StoreError(f"no token named {name!r} in {history.location}; `batchmark token list` shows them")
            token.revoked = True
    except SQLAlchemyError as error:
        raise explain(error, history.engine.url) from None
    return _info(token)


def authenticate(history: History, text: str) -> TokenInfo | None:
    """The live token whose text this is, or None (unknown or revoked). The lookup is by hash, bound as a
    parameter: the token's text never reaches SQL. A read: on SQLite it never queues behind a writer."""
    with Session(reader(history.engine)) as session:
        token = session.scalars(select(UploadToken).where(UploadToken.token_sha256 == token_hash(text))).first()
    if token is None or token.revoked:
        return None
    return _info(token)
