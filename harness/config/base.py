"""The one strict base of every typed configuration, and the one canonical-JSON digest.

Configurations are frozen (a run cannot change the protocol it is measured under) and refuse unknown fields (a typo
in a profile or a manifest is an error, not a silently ignored key).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Frozen, and unknown fields are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def canonical_json(value: Any, compact: bool = True) -> str:
    """``value`` as JSON with sorted keys: the same value always gives the same text. ``compact=False`` keeps
    ``json.dumps``' default separators (the artifact cache keys were made that way) and stringifies anything else."""
    if compact:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return json.dumps(value, sort_keys=True, default=str)


def digest(value: Any, length: int | None = None, compact: bool = True) -> str:
    """The sha256 hex digest of :func:`canonical_json` of ``value``, cut to ``length`` characters if given."""
    full = hashlib.sha256(canonical_json(value, compact).encode()).hexdigest()
    return full[:length] if length else full
