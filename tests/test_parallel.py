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
