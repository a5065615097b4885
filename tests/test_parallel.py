"""Spawned worker pools: a worker never outlives the process that owns its pool."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

OWNER = """
import os, time
from harness.parallel import spawn_pool

if __name__ == "__main__":
    pool = spawn_pool(1)
    print(pool.submit(os.getpid).result(), flush=True)
    pool.submit(time.sleep, 600)  # a long task, like a self-DPO seed run
    time.sleep(600)
"""


def _running(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        state = next(line for line in status.read_text().splitlines() if line.startswith("State:"))
    except (FileNotFoundError, ProcessLookupError):
        return False
    return "zombie" not in state


def test_a_worker_exits_when_its_pools_owner_is_killed(tmp_path):
    """A killed `ladder demo` (or worker job) must not leave seed runs burning the CPUs for minutes."""
    script = tmp_path / "owner.py"
    script.write_text(OWNER)
    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        worker = int(owner.stdout.readline())
        assert _running(worker)
    finally:
        owner.kill()
        owner.wait()
    deadline = time.monotonic() + 20
    while _running(worker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _running(worker), f"worker {worker} outlived its pool's owner"


FINISHED_POOL = """
import os, threading, time
from harness import cancel
from harness.parallel import spawn_pool

if __name__ == "__main__":
    with cancel.job_scope():
        pool = spawn_pool(2)
        for f in [pool.submit(time.sleep, 0.5) for _ in range(4)]:  # both workers started and watching
            f.result()
        pool.shutdown(wait=True)  # a finished seed pool: its workers exit while watching the stop flag
        done = threading.Event()
        threading.Thread(target=lambda: (cancel.cancel("lease lost"), done.set()), daemon=True).start()
        print("cancelled" if done.wait(20) else "hung", flush=True)
"""


def test_cancelling_after_a_pool_finished_returns_at_once(tmp_path):
    """A job cancelled after its seed pool finished: the heartbeat's cancel() must return (a multiprocessing.Event
    as the stop flag hung it, waiting for the exited workers to acknowledge the wake-up)."""
    script = tmp_path / "finished.py"
    script.write_text(FINISHED_POOL)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.splitlines()[-1] == "cancelled"
