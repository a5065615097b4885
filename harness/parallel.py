"""Process pools for CPU-bound work on tiny models: spawned workers that split the machine's threads.

Tiny students are too small for torch's intra-op threads to help much, so a 2-core machine trains two of them
faster side by side than one after the other. Each worker gets ``threads // workers`` threads (at least one),
so a run's numerics depend on its thread count, never on which worker ran it.

A worker exits as soon as the process that made the pool is gone: killed (a cancelled job, Ctrl-C twice, the OOM
killer), its pool's workers would otherwise finish their self-DPO run and keep the CPUs busy with no one to read
the result (measured here: orphaned seed runs of killed `ladder demo` processes slowed later runs for an hour).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor

PARENT_POLL_S = 1.0


class StopFlag:
    """A cross-process flag without a lock: the pool's owner sets it, its workers poll it.

    Not a ``multiprocessing.Event``: its ``set()`` waits in ``Condition.notify`` for every process counted as
    waiting to acknowledge the wake-up, and a worker that exited while inside ``Event.wait`` (every worker of a
    finished pool does) never acknowledges, so cancelling a job hung its worker's heartbeat for good (seen in CI).
    One shared byte written by one process and read by others needs no lock."""

    def __init__(self, ctx) -> None:
        self._value = ctx.RawValue("b", 0)

    def set(self) -> None:
        self._value.value = 1

    def is_set(self) -> bool:
        return bool(self._value.value)


def _exit_with_parent(parent: int, stop: StopFlag) -> None:
    while os.getppid() == parent and not stop.is_set():
        time.sleep(PARENT_POLL_S)
    os._exit(1)  # reparented (the pool's owner died) or the job was cancelled: nothing here is worth finishing


def _init_worker(threads: int, parent: int, stop) -> None:
    import torch

    torch.set_num_threads(threads)
    threading.Thread(target=_exit_with_parent, args=(parent, stop), name="exit-with-parent", daemon=True).start()


def spawn_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes sharing this process's torch threads between them; each worker
    exits when this process dies or its job is cancelled (:func:`harness.cancel.cancel`)."""
    import torch

    from harness import cancel

    threads = max(1, torch.get_num_threads() // workers)
    ctx = multiprocessing.get_context("spawn")
    stop = StopFlag(ctx)
    cancel.watch(stop)
    return ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                               initargs=(threads, os.getpid(), stop))
