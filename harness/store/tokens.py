"""Write tokens for the submissions API: created by an admin command, stored as sha256 only, revocable.

Tokens are 32 random bytes (``secrets.token_urlsafe``), so a plain sha256 is enough: there is nothing to
brute-force, unlike a password, and a lookup by hash needs no per-row salt. The plaintext is returned once by
:func:`create_token` and never stored.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError

from harness.store.db import session_scope
from harness.store.queue import utcnow
from harness.store.schema import ApiToken

PREFIX = "vl_"


class TokenError(ValueError):
    """A token name is taken, or no such token exists."""


@dataclass(frozen=True)
class TokenInfo:
    name: str
    created_at: datetime | None
    last_used_at: datetime | None
    revoked: bool


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(engine: Engine, name: str) -> str:
    """A new token for ``name`` (shown once); TokenError when the name is already used."""
    token = PREFIX + secrets.token_urlsafe(32)
    try:
        with session_scope(engine) as session:
            session.add(ApiToken(name=name, token_hash=token_hash(token)))
    except IntegrityError:
        raise TokenError(f"a token named {name!r} already exists (revoke it or pick another name)") from None
    return token


def verify_token(engine: Engine, token: str | None) -> str | None:
    """The name of the live token ``token`` is, or None (unknown, revoked or missing)."""
    if not token or len(token) > 200:
        return None
    with session_scope(engine) as session:
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token),
                                                    ApiToken.revoked_at.is_(None)))
        if row is None:
            return None
        row.last_used_at = utcnow()
        return row.name


def revoke_token(engine: Engine, name: str) -> None:
    with session_scope(engine) as session:
        changed = session.execute(update(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
                                  .values(revoked_at=utcnow())).rowcount
    if changed != 1:
        raise TokenError(f"no live token named {name!r}")


def list_tokens(engine: Engine) -> list[TokenInfo]:
    with session_scope(engine) as session:
        rows = session.scalars(select(ApiToken).order_by(ApiToken.id))
        return [TokenInfo(r.name, r.created_at, r.last_used_at, r.revoked_at is not None) for r in rows]
