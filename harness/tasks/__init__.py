"""The benchmarks: hub sources, items, standard prompts and official-equivalent scorers.

``get_task("mmmu").score(response, row)`` decides correctness on a row in the hub schema.
Tasks are pure: no models, no database.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from harness.tasks import blink, mathvista, mmmu, shapes  # noqa: F401  (importing a task module registers it)
from harness.tasks.base import HubSource, Item, Task
from harness.tasks.registry import TASKS, register_task
from harness.tasks.scorers.common import Score


def get_task(name: str, **options: Any) -> Task:
    """An instance of the task registered as ``name`` (options go to its constructor)."""
    return TASKS.get(name)(**options)


def list_tasks() -> list[str]:
    return TASKS.names()


def check_tasks(names: Iterable[str]) -> None:
    """Raise :class:`harness.registry.UnknownNameError` (with "did you mean") for the first unregistered name: a
    protocol's task list is checked here, where tasks are known, not by the configuration layer."""
    for name in names:
        TASKS.get(name)

__all__ = ["HubSource", "Item", "Score", "Task", "TASKS", "check_tasks", "get_task", "list_tasks", "register_task"]
