"""Verifier backends, registered by name: ``hf``, ``vllm``, ``openai``, ``reward_model``, ``simulated``.

Modules import their heavy dependencies (torch models, vllm, HTTP clients) inside methods, so
importing this package is cheap and a CPU machine never needs vllm.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.verifiers import hf, openai_api, reward_model, simulated, vllm  # noqa: F401  (importing a backend registers it)
from harness.verifiers.base import JudgeRequest, RawJudgment, VerifierBackend
from harness.verifiers.registry import BACKENDS, register_backend

if TYPE_CHECKING:
    from harness.submission import Manifest


def make_backend(manifest: Manifest) -> VerifierBackend:
    """The backend named by the manifest, constructed for it."""
    return BACKENDS.get(manifest.backend)(manifest)

__all__ = ["BACKENDS", "JudgeRequest", "RawJudgment", "VerifierBackend", "make_backend", "register_backend"]
