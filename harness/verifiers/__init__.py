"""Verifier backends, registered by name: ``hf``, ``vllm``, ``openai``, ``simulated``.

Modules import their heavy dependencies (torch models, vllm, HTTP clients) inside methods, so
importing this package is cheap and a CPU machine never needs vllm.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.registry import Registry
from harness.verifiers.base import JudgeRequest, RawJudgment, VerifierBackend

if TYPE_CHECKING:
    from harness.submission import Manifest

BACKENDS: Registry[type[VerifierBackend]] = Registry("verifier backend")


def register_backend(cls: type[VerifierBackend]) -> type[VerifierBackend]:
    return BACKENDS.register(cls.name)(cls)


def make_backend(manifest: Manifest) -> VerifierBackend:
    """The backend named by the manifest, constructed for it."""
    return BACKENDS.get(manifest.backend)(manifest)


from harness.verifiers import hf, openai_api, simulated, vllm  # noqa: E402, F401

__all__ = ["BACKENDS", "JudgeRequest", "RawJudgment", "VerifierBackend", "make_backend", "register_backend"]
