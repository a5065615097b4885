"""The submission queue on SQLite and PostgreSQL: duplicates, leases, expiry, retries, cancel, races."""

from __future__ import annotations

import multiprocessing as mp
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from harness.store import connect, session_scope
from harness.store import queue as q
from harness.store.schema import Family, Release, Submission

PROTO = q.ProtocolKey(version="1", profile="demo", digest="abc123", config={"profile": "demo"})


def manifest(name: str = "v", release: str = "1") -> dict:
    return {"name": name, "family": f"fam-{name}", "release": release, "backend": "simulated"}


def test_duplicate_manifest_is_reported_not_queued_twice(db_url):
    engine = connect(db_url)
    first, created = q.submit(engine, manifest(), "h1", PROTO)
    again, created_again = q.submit(engine, manifest(), "h1", PROTO)
    other_protocol, created_other = q.submit(engine, manifest(), "h1", q.ProtocolKey("1", "production", "zzz", {}))
    assert created and not created_again and again.id == first.id
    assert created_other and other_protocol.id != first.id
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Submission)) == 2
        assert s.scalar(select(func.count()).select_from(Family)) == 1
        assert s.scalar(select(func.count()).select_from(Release)) == 1


def test_listing_shows_the_newest_first_and_limit_0_shows_all(db_url):
    """`ladder status --limit 0` lists every submission, as the API's limit=0 does (it once listed none)."""
    engine = connect(db_url)
    ids = [q.submit(engine, manifest(f"v{i}"), f"h{i}", PROTO)[0].id for i in range(3)]
    assert [s.id for s in q.listing(engine, 2)] == ids[::-1][:2]
    assert [s.id for s in q.listing(engine, 0)] == ids[::-1]


def test_claim_takes_oldest_and_lease_expiry_hands_it_to_another_worker(db_url):
    engine = connect(db_url)
    a, _ = q.submit(engine, manifest("a"), "ha", PROTO)
    b, _ = q.submit(engine, manifest("b"), "hb", PROTO)
    got = q.claim(engine, "w1", lease_seconds=60)
    assert got.id == a.id and got.status == "running" and got.attempts == 1 and got.worker == "w1"
    assert q.claim(engine, "w2", lease_seconds=60).id == b.id
    assert q.claim(engine, "w3", lease_seconds=60) is None
    # w1 dies: once its lease has expired, w3 takes the job over and w1 can no longer heartbeat or finish it.
    later = q.utcnow() + timedelta(seconds=61)
    taken = q.claim(engine, "w3", lease_seconds=60, now=later)
    assert taken.id == a.id and taken.worker == "w3" and taken.attempts == 2
    with pytest.raises(q.LeaseLost):
        q.heartbeat(engine, a.id, "w1", 60)
    with pytest.raises(q.LeaseLost):
        q.fail(engine, a.id, "w1", "late")
    q.heartbeat(engine, a.id, "w3", 60)
    assert q.get(engine, a.id).status == "running"


def test_job_whose_workers_keep_dying_fails_with_the_reason(db_url):
    engine = connect(db_url)
    job, _ = q.submit(engine, manifest(), "h", PROTO, max_attempts=2)
    now = q.utcnow()
    for i in range(2):
        assert q.claim(engine, f"w{i}", 10, now=now + timedelta(seconds=20 * i)).id == job.id
    assert q.claim(engine, "w9", 10, now=now + timedelta(seconds=100)) is None
    final = q.get(engine, job.id)
    assert final.status == "failed" and "2 attempts" in final.failure_reason and "w1" in final.failure_reason


def test_cancel_stops_a_running_job_at_its_next_heartbeat(db_url):
    engine = connect(db_url)
    job, _ = q.submit(engine, manifest(), "h", PROTO)
    q.claim(engine, "w1", 60)
    assert q.cancel(engine, job.id)
    with pytest.raises(q.LeaseLost):
        q.heartbeat(engine, job.id, "w1", 60)
    assert not q.cancel(engine, job.id), "a finished job cannot be cancelled again"
    assert q.get(engine, job.id).status == "cancelled"
    assert q.claim(engine, "w2", 60) is None


def test_failure_reason_is_recorded(db_url):
    engine = connect(db_url)
    job, _ = q.submit(engine, manifest(), "h", PROTO)
    q.claim(engine, "w1", 60)
    q.fail(engine, job.id, "w1", "NaN loss in round 2")
    got = q.get(engine, job.id)
    assert got.status == "failed" and got.failure_reason == "NaN loss in round 2" and got.finished_at is not None


def _race_worker(url: str, name: str, out) -> None:
    engine = connect(url)
    mine = []
    while (job := q.claim(engine, name, lease_seconds=600)) is not None:
        mine.append(job.id)
        with session_scope(engine) as s:
            s.execute(update(Submission).where(Submission.id == job.id).values(status="succeeded"))
    out.put((name, mine))


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # concurrent writers: SQLite allows one
def test_racing_workers_never_run_the_same_job(db_url):
    engine = connect(db_url)
    ids = [q.submit(engine, manifest(f"v{i}"), f"h{i}", PROTO)[0].id for i in range(120)]
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_race_worker, args=(db_url, f"w{i}", out)) for i in range(4)]
    for p in procs:
        p.start()
    results = dict(out.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=30)
    claimed = [j for jobs in results.values() for j in jobs]
    assert sorted(claimed) == sorted(ids), "every job ran exactly once"
    assert sum(1 for jobs in results.values() if jobs) >= 2, "the workers really raced"


@pytest.mark.parametrize(("model", "label"), [
    ({"path": "/srv/ladder-models/team-a/judge-7b/"}, "judge-7b"),
    ({"hub_id": "team-a/judge", "revision": "abc123"}, "team-a/judge@abc123"),
])
def test_the_public_releases_table_names_a_local_model_by_its_folder_only(db_url, model, label):
    engine = connect(db_url)
    q.submit(engine, {**manifest("m"), "backend": "hf", "model": model}, "hm", PROTO)
    with session_scope(engine) as s:
        assert s.scalar(select(Release.model)) == label
