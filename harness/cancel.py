"""Stopping a running job when the worker no longer holds it (cancelled, or its lease taken over).

The worker's heartbeat learns that the job is gone; the work itself (judge requests, sampling, DPO steps) runs
elsewhere in the process, in the seed processes it spawned, or in a container. One flag per process joins them:
:func:`cancel` sets it, every long loop calls :func:`check` between batches and steps (the openai backend
before every request), and the stop events of this process's pools (:func:`watch`) make their workers exit.
A worker runs one job at a time, so the flag is process-wide and :func:`job_scope` clears it around each job.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_flag = threading.Event()
_reason: list[str] = [""]
_watched: list[Any] = []  # stop flags of pools started by this process (anything with set())


class Cancelled(Exception):
    """The job was cancelled or taken over; nothing more of it should run."""


def cancel(reason: str) -> None:
    """Stop the job this process is running, as soon as each of its loops next checks."""
    _reason[0] = reason
    _flag.set()
    for event in list(_watched):
        event.set()


def cancelled() -> bool:
    return _flag.is_set()


def check() -> None:
    """Raise :class:`Cancelled` if the running job was cancelled."""
    if _flag.is_set():
        raise Cancelled(_reason[0] or "cancelled")


def watch(event: Any) -> None:
    """Set ``event`` (a process pool's :class:`harness.parallel.StopFlag`) when the job is cancelled."""
    _watched.append(event)
    if _flag.is_set():
        event.set()


@contextmanager
def job_scope() -> Iterator[None]:
    """A fresh flag for one job (a cancelled job must not stop the next one)."""
    _flag.clear()
    try:
        yield
    finally:
        _flag.clear()
        _watched.clear()
