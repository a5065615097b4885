"""Executors: where a submission's protocol runs (``local`` here; ``docker`` and ``ray`` per deployment).

An executor takes the manifest (JSON) and the protocol profile and returns the run's result document and
per-item rows; it never touches the database (the worker lands the result). Registered by name, so a
deployment picks one with ``ladder worker --executor NAME`` and a typo gets a "did you mean" error.
"""

from __future__ import annotations

from harness.executors.base import (
    EXECUTORS,
    Executor,
    ExecutorError,
    ExecutorOutcome,
    read_outcome,
    register_executor,
    write_outcome,
)

__all__ = ["EXECUTORS", "Executor", "ExecutorError", "ExecutorOutcome", "get_executor", "read_outcome",
           "register_executor", "write_outcome"]


def get_executor(name: str) -> Executor:
    import harness.executors.docker  # noqa: F401  (registers; imports the Docker SDK only when it runs)
    import harness.executors.local  # noqa: F401
    import harness.executors.ray  # noqa: F401

    return EXECUTORS.get(name)()
