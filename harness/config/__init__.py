"""Every typed configuration and reference type, in one place: the bottom layer.

Layers, each importing only those before it: ``config`` <- ``tasks`` <- ``models`` <- ``verifiers`` <- ``stages`` <-
``runner`` <- ``cli``; ``store`` and ``leaderboard`` beside, the leaderboard reading only the store and this
package. Nothing here imports torch, a model, a task or the store.

- :mod:`harness.config.base`: the strict base model and the canonical-JSON digest;
- :mod:`harness.config.models`: model references, tiny-model sizes, the tiny students' warm-up;
- :mod:`harness.config.stages`: the audit, self-DPO and evaluation settings;
- :mod:`harness.config.protocol`: students, the protocol and its named profiles.
"""

from harness.config.base import Strict, canonical_json, digest
from harness.config.models import DType, Family, ModelRef, TinySpec, WarmupConfig
from harness.config.protocol import (
    DEFAULT_RUBRIC,
    PROFILES,
    PROTOCOL_VERSION,
    ProtocolConfig,
    StudentConfig,
    get_protocol,
)
from harness.config.stages import (
    SAMPLE_BATCH_PROMPTS,
    AuditConfig,
    DecodingConfig,
    EvalConfig,
    PackRef,
    SelfDPOConfig,
)

__all__ = ["DEFAULT_RUBRIC", "PROFILES", "PROTOCOL_VERSION", "SAMPLE_BATCH_PROMPTS", "AuditConfig", "DType",
           "DecodingConfig", "EvalConfig", "Family", "ModelRef", "PackRef", "ProtocolConfig", "SelfDPOConfig",
           "Strict", "StudentConfig", "TinySpec", "WarmupConfig", "canonical_json", "digest", "get_protocol"]
