"""The task registry: task modules register here (:func:`register_task`); :mod:`harness.tasks` looks them up.

Apart from the package's ``__init__`` so that a task module imports this module, not its own package (no import
circle), and ``harness.tasks`` imports every task module once, which registers them.
"""

from __future__ import annotations

from harness.registry import Registry
from harness.tasks.base import Task

TASKS: Registry[type[Task]] = Registry("task")


def register_task(cls: type[Task]) -> type[Task]:
    """Class decorator: register a task under its ``name``."""
    return TASKS.register(cls.name)(cls)
