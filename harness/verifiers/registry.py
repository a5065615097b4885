"""The verifier backend registry: backend modules register here (:func:`register_backend`).

Apart from the package's ``__init__`` so that a backend module imports this module, not its own package (no import
circle); ``harness.verifiers`` imports the built-in backends once, which registers them.
"""

from __future__ import annotations

from harness.registry import Registry
from harness.verifiers.base import VerifierBackend

BACKENDS: Registry[type[VerifierBackend]] = Registry("verifier backend")


def register_backend(cls: type[VerifierBackend]) -> type[VerifierBackend]:
    """Class decorator: register a backend under its ``name`` (its class attributes describe it)."""
    return BACKENDS.register(cls.name)(cls)
