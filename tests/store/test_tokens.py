"""API write tokens: shown once, stored hashed, revocable."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from harness.store import connect
from harness.store.schema import ApiToken
from harness.store.tokens import TokenError, create_token, list_tokens, revoke_token, verify_token


def test_token_lifecycle(db_url):
    engine = connect(db_url)
    token = create_token(engine, "team-a")
    with engine.connect() as conn:
        stored = conn.scalar(select(ApiToken.token_hash))
    assert token not in stored and len(stored) == 64  # only the hash is kept
    assert verify_token(engine, token) == "team-a"
    assert verify_token(engine, token + "x") is None and verify_token(engine, None) is None
    with pytest.raises(TokenError, match="already exists"):
        create_token(engine, "team-a")
    revoke_token(engine, "team-a")
    assert verify_token(engine, token) is None
    assert [(t.name, t.revoked, t.last_used_at is not None) for t in list_tokens(engine)] == [("team-a", True, True)]
    with pytest.raises(TokenError, match="no live token"):
        revoke_token(engine, "team-a")
