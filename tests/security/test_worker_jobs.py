"""A bad job fails alone: the worker that ran it goes on to the next claim.

Probes of issue 15: a rubric template raising in the sandbox crashed ``ladder worker`` (exit 1) at each claim,
so one submission stopped three workers and failed with the wrong reason ("stopped heartbeating"); a manifest
written into the queue past the API's checks sent the operator's secret to the submitter's listener. Jobs are
written into the queue directly here (``queue.submit``), as an attacker with database access or an older
deployment would.
"""

from __future__ import annotations

import pytest
import yaml

from harness.settings import get_settings
from harness.store import queue as q
from harness.worker import run_worker
from tests.fixtures.openai_server import FakeServer, ok

STRONG = "submissions/demo/strong.yaml"


def _strong(**changes) -> dict:
    return {**yaml.safe_load(open(STRONG).read()), **changes}


@pytest.mark.slow
def test_a_template_that_fails_at_run_time_fails_its_job_and_the_worker_runs_the_next(env):
    engine, enqueue = env
    # Renders the submission-time sample, then divides by zero on the first real candidate ("A").
    bad = enqueue(_strong(name="bomb", rubric_template="{{ question }} {{ candidate }}"
                                                       "{% if candidate == 'A' %}{{ 1 // 0 }}{% endif %}"))
    refused = enqueue(_strong(name="power", rubric_template="{{ 9 ** 9999999 }}{{ question }}{{ candidate }}"))
    good = enqueue(_strong(name="fine"))
    assert run_worker(engine, get_settings(), once=True) == 3  # one worker, three claims, still alive
    jobs = {j: q.get(engine, j) for j in (bad, refused, good)}
    assert jobs[bad].status == "failed" and jobs[bad].attempts == 1
    assert jobs[bad].failure_reason == "TemplateRefused: ZeroDivisionError: integer division or modulo by zero"
    assert jobs[refused].status == "failed" and "rubric_template: cannot be rendered" in jobs[refused].failure_reason
    assert "exponent 9999999" in jobs[refused].failure_reason
    assert (jobs[good].status, jobs[good].failure_reason) == ("succeeded", None)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_queued_manifest_that_would_leak_a_secret_is_refused_and_nothing_reaches_the_listener(env, monkeypatch):
    engine, enqueue = env
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "must-not-leak")
    listener = FakeServer(ok)
    try:
        base = {"name": "probe", "family": "probe", "release": "1", "owner": "attacker", "backend": "openai",
                "cost": {"kind": "api", "usd_per_1m_input_tokens": 1, "usd_per_1m_output_tokens": 1,
                         "priced_on": "2026-11-26"}}
        leak = enqueue({**base, "endpoint": {"base_url": "https://judge.example.com/v1", "model": "m",
                                             "api_key_env": "AWS_SECRET_ACCESS_KEY"}})
        ssrf = enqueue({**base, "name": "ssrf", "endpoint": {"base_url": listener.base_url, "model": "m"}})
        assert run_worker(engine, get_settings(), once=True) == 2
        assert q.get(engine, leak).failure_reason == ("refused: endpoint.api_key_env: 'AWS_SECRET_ACCESS_KEY' is "
                                                      "not a key variable this leaderboard's operator allows "
                                                      "manifests to use")
        assert "127.0.0.1 is a loopback address" in q.get(engine, ssrf).failure_reason
        assert listener.hits == 0
    finally:
        listener.stop()
