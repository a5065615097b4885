"""``ladder cancel`` stops the work, not only the bookkeeping.

Probe of issue 15: after ``ladder cancel`` the worker logged "lease lost" and kept sending judge requests until
it was killed. Now the heartbeat that learns of the cancel stops the job (:mod:`harness.cancel`): the listener
gets no request after it, and the same worker claims the next job.
"""

from __future__ import annotations

import threading
import time

import pytest

from harness import cancel
from harness.settings import get_settings
from harness.store import queue as q
from harness.worker import run_worker
from tests.fixtures.openai_server import FakeServer, completion
from tests.security.test_worker_jobs import _strong

LEASE = 3.0  # heartbeat every second


def _slow_judge(n, body, headers, server):
    time.sleep(0.05)
    return 200, {}, completion('{"score": 0.7}')


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_cancelled_job_sends_no_judge_request_after_the_next_heartbeat(env, monkeypatch):
    engine, enqueue = env
    monkeypatch.setenv("LADDER_ALLOW_LOCAL_ENDPOINTS", "1")  # the operator's choice; the listener is local
    listener = FakeServer(_slow_judge)
    try:
        judged = enqueue({**_strong(name="slow judge"), "backend": "openai", "simulated": None,
                          "endpoint": {"base_url": listener.base_url, "model": "m", "concurrency": 1},
                          "cost": {"kind": "none", "priced_on": "2026-11-26"}})
        after = enqueue(_strong(name="next in line"))
        done: list[int] = []
        worker = threading.Thread(target=lambda: done.append(
            run_worker(engine, get_settings(), once=True, lease_seconds=LEASE)), daemon=True)
        worker.start()
        t0 = time.monotonic()
        while listener.hits < 5 and time.monotonic() - t0 < 300:
            time.sleep(0.05)
        assert listener.hits >= 5, "the audit never started judging"
        assert q.cancel(engine, judged)
        time.sleep(LEASE / 3 + 0.5)  # the next heartbeat, and a request already in flight
        hits = listener.hits
        time.sleep(2.0)
        assert listener.hits == hits, "judge requests kept coming after the heartbeat that saw the cancel"
        worker.join(timeout=600)
        assert done == [2]  # it went on to the next job
        assert q.get(engine, judged).status == "cancelled"
        assert (q.get(engine, after).status, q.get(engine, after).failure_reason) == ("succeeded", None)
        assert not cancel.cancelled()  # the next job ran with a fresh flag
    finally:
        listener.stop()


@pytest.mark.slow
def test_a_cancelled_job_cancels_its_ray_task(demo_data_dir, small_profile, tmp_path):
    ray = pytest.importorskip("ray")
    import shutil

    from harness.config import get_protocol
    from harness.executors.ray import RayExecutor, RaySettings
    from harness.settings import Settings

    shutil.copytree(demo_data_dir / "students", tmp_path / "data" / "students")
    caught: list[BaseException] = []

    def run():
        try:
            RayExecutor(RaySettings(gpus=0, cpus=1)).run(_strong(), get_protocol(small_profile).model_dump(
                mode="json"), Settings(data_dir=tmp_path / "data"))
        except BaseException as err:  # noqa: BLE001 - what ended the run is the assertion
            caught.append(err)

    try:
        with cancel.job_scope():
            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            t0 = time.monotonic()
            while not ray.is_initialized() and time.monotonic() - t0 < 120:
                time.sleep(0.2)
            time.sleep(5)  # the task is running on the local cluster
            assert thread.is_alive(), caught
            cancel.cancel("test: cancelled")
            t1 = time.monotonic()
            thread.join(timeout=60)
            stopped = time.monotonic() - t1
        assert [type(e) for e in caught] == [cancel.Cancelled] and stopped < 5
    finally:
        ray.shutdown()


def test_a_cancelled_job_kills_its_container():
    """The docker executor's wait: a cancel seen between one-second slices kills the container (a fake one here;
    the real engine's wait times out with requests' ReadTimeout, as this one does)."""
    from requests.exceptions import ReadTimeout

    from harness.executors.docker import _wait

    events: list[str] = []

    class Running:
        def wait(self, timeout):
            time.sleep(timeout)
            raise ReadTimeout("still running")

        def kill(self):
            events.append("kill")

    with cancel.job_scope():
        threading.Timer(0.3, cancel.cancel, args=("test: cancelled",)).start()
        t0 = time.monotonic()
        with pytest.raises(cancel.Cancelled):
            _wait(Running(), timeout_s=600, slice_s=0.2)
        assert events == ["kill"] and time.monotonic() - t0 < 2
    from harness.executors import ExecutorError

    with pytest.raises(ExecutorError, match="killed after"):  # and the time limit still holds
        _wait(Running(), timeout_s=0.3, slice_s=0.1)
    assert events == ["kill", "kill"]
