"""The executor interface, its outcome file, and the registry executors register in (see :mod:`harness.executors`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from harness.documents import run_status
from harness.registry import Registry
from harness.settings import Settings


class ExecutorError(RuntimeError):
    """The executor could not produce a result (container failed, task crashed, timeout)."""


@dataclass(frozen=True)
class ExecutorOutcome:
    document: dict[str, Any]
    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def document_status(self) -> str:
        """The run's status as its document tells it (:func:`harness.documents.run_status`)."""
        return run_status(self.document)

    @property
    def failure(self) -> str | None:
        reasons = [f"{t['task']}/{s['student']}: {s['failure']}" for t in self.document["tasks"]
                   for s in t["students"] if s.get("failure")]
        return "; ".join(reasons) or None


class Executor(ABC):
    name: ClassVar[str]

    @abstractmethod
    def run(self, manifest: dict[str, Any], protocol: dict[str, Any], settings: Settings) -> ExecutorOutcome:
        """Run the whole protocol (its full configuration, as queued) for one submission, resuming from
        finished stages."""


EXECUTORS: Registry[type[Executor]] = Registry("executor")


def register_executor(cls: type[Executor]) -> type[Executor]:
    return EXECUTORS.register(cls.name)(cls)


def write_outcome(outcome: ExecutorOutcome, path) -> None:
    """The file an out-of-process executor (container, Ray task) hands back to the worker."""
    import json

    from harness.artifacts import atomic_write_text

    atomic_write_text(path, json.dumps({"document": outcome.document, "items": outcome.items}))


def read_outcome(path) -> ExecutorOutcome:
    import json
    from pathlib import Path

    path = Path(path)
    try:
        data = json.loads(path.read_text())
        return ExecutorOutcome(document=data["document"], items=data["items"])
    except (OSError, ValueError, KeyError) as err:
        # The reason becomes the job's public failure reason: name the file, not the host path to it.
        why = err.strerror if isinstance(err, OSError) and err.strerror else f"{type(err).__name__}: {err}"
        raise ExecutorError(f"no readable result ({path.name}): {why}") from None
