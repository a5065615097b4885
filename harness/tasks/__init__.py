"""The benchmarks: hub sources, items, standard prompts and official-equivalent scorers.

``get_task("mmmu").score(response, row)`` decides correctness on a row in the hub schema.
Tasks are pure: no models, no database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from harness.tasks import blink, mathvista, mmmu, shapes  # noqa: F401  (importing a task module registers it)
from harness.tasks.base import HubSource, Item, Task
from harness.tasks.registry import TASKS, register_task
from harness.tasks.scorers.common import Score

if TYPE_CHECKING:
    from harness.config import ProtocolConfig


def get_task(name: str, **options: Any) -> Task:
    """An instance of the task registered as ``name`` (options go to its constructor)."""
    return TASKS.get(name)(**options)


def max_images_per_item(names: Iterable[str] | None = None) -> int:
    """The most images one item of the named tasks (all registered ones by default) carries."""
    return max(TASKS.get(n).max_images for n in (TASKS.names() if names is None else names))


def list_tasks() -> list[str]:
    return TASKS.names()


def check_tasks(names: Iterable[str]) -> None:
    """Raise :class:`harness.registry.UnknownNameError` (with "did you mean") for the first unregistered name: a
    protocol's task list is checked here, where tasks are known, not by the configuration layer."""
    for name in names:
        TASKS.get(name)


def chosen_tasks(protocol: ProtocolConfig, tasks: Sequence[str] | None = None) -> list[str]:
    """``tasks`` (all of the protocol's when None), checked: registered and in the protocol, else ``ValueError``
    (an unknown name: :class:`harness.registry.UnknownNameError`, with "did you mean")."""
    names = list(protocol.tasks if tasks is None else tasks)
    check_tasks(names)
    if not names or (unknown := [t for t in names if t not in protocol.tasks]):
        raise ValueError(f"tasks {names if not names else unknown} are not in protocol profile {protocol.profile!r} "
                         f"(tasks: {', '.join(protocol.tasks)})")
    return names


__all__ = ["HubSource", "Item", "Score", "Task", "TASKS", "check_tasks", "chosen_tasks", "get_task", "list_tasks",
           "register_task"]
