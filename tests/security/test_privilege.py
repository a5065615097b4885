"""Least privilege: a submission's container can write only its own job folder (caches read-only, never the
database or the data directory as a whole, no world-writable folder), and what the leaderboard publishes names
no host, process, host path or kernel."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import socket
import stat
from pathlib import Path

import pytest

from harness.config import get_protocol
from harness.settings import Settings
from harness.submission import load_manifest

STRONG = Path("submissions/demo/strong.yaml")


@pytest.fixture
def docker_job(tmp_path):
    """A data directory as a worker host has it (database, tiny students, shared artifacts), an HF cache, and
    a submission's manifest and protocol."""
    from harness.stages.students import student_folder

    data = tmp_path / "data"
    demo = get_protocol("demo")
    for student in demo.students:  # built (warmed-up) tiny students, as `ladder demo` or a warm-up leaves them
        folder = student_folder(student, data / "students", demo.split_seed)
        folder.mkdir(parents=True)
        (folder / "warmup.json").write_text("{}")
    (data / "artifacts" / "baselines").mkdir(parents=True)
    (data / "ladder.db").write_bytes(b"")
    (tmp_path / "hf").mkdir()
    manifest = load_manifest(STRONG).model_dump(mode="json")
    return Settings(data_dir=data), tmp_path / "hf", manifest, demo.model_dump(mode="json")


def _check_least_privilege(spec: dict, settings: Settings, job: Path, hf: Path) -> None:
    data = settings.data_dir.resolve()
    db = (settings.data_dir / "ladder.db").resolve()
    mounts = spec["mounts"]
    writable = [m for m in mounts if not m.get("ReadOnly")]
    assert [Path(m["Source"]) for m in writable] == [job.resolve()], "only the job folder is writable"
    for m in mounts:
        source = Path(m["Source"])
        assert source != data, f"the whole data dir is mounted at {m['Target']}"
        assert not db.is_relative_to(source), f"the database is reachable through the mount at {m['Target']}"
    read_only = {Path(m["Source"]) for m in mounts if m.get("ReadOnly")}
    students = {p.resolve() for p in (settings.data_dir / "students").iterdir()}
    assert len(students) == 2 and students | {(settings.data_dir / "artifacts").resolve(), hf.resolve()} == read_only, \
        "the caches the run reads are there, read-only, and nothing else"
    mode = job.stat().st_mode
    assert not mode & (stat.S_IWOTH | stat.S_IWGRP), f"job folder mode {oct(mode)}: writable by others"
    owner = job.stat()
    assert spec["user"] == f"{owner.st_uid}:{owner.st_gid}" and owner.st_uid != 0, \
        "the container runs as the (non-root) owner of the job folder"
    # What `ladder execute` writes (stage files, artifacts, the outcome) lands under the job folder's mount.
    target = writable[0]["Target"]
    env = spec["environment"]
    assert env["LADDER_DATA_DIR"] == target and env["LADDER_ARTIFACTS_DIR"].startswith(target + "/")
    out = spec["command"][spec["command"].index("--out") + 1]
    assert out.startswith(target + "/")
    assert set(spec["tmpfs"]) <= {"/tmp", "/cache/hf"} and spec["read_only"] is True


def test_container_spec_mounts_only_the_job_folder_read_write(docker_job):
    from harness.executors.docker import DockerSettings, container_spec, job_folder

    settings, hf, manifest, protocol = docker_job
    cfg = DockerSettings(image="ladder-worker:test", gpus=0, model_cache=hf)
    job = job_folder(manifest, protocol, settings, cfg)
    assert job.parent.resolve() == settings.data_dir.resolve()
    spec = container_spec(manifest, protocol, settings, cfg, job)
    _check_least_privilege(spec, settings, job, hf)
    assert json.loads((job / "protocol.json").read_text()) == protocol
    assert job_folder(manifest, protocol, settings, cfg) == job, "the same submission resumes in the same folder"


def test_docker_executor_run_starts_the_container_with_least_privilege(docker_job, monkeypatch):
    """The executor's own run (no Docker engine: a fake client records the container it was asked for)."""
    docker = pytest.importorskip("docker")
    from harness.executors.docker import DockerExecutor, DockerSettings

    settings, hf, manifest, protocol = docker_job
    seen = {}

    class Container:
        def wait(self, timeout):
            return {"StatusCode": 0}

        def logs(self, **_):
            return b"outcome written\n"

        def remove(self, force):
            seen["removed"] = force

    class Containers:
        def run(self, **spec):
            job = Path(next(m["Source"] for m in spec["mounts"] if not m.get("ReadOnly")))
            seen["spec"], seen["job"], seen["mode"] = spec, job, job.stat().st_mode
            (job / "outcome.json").write_text(json.dumps({"document": {"tasks": []}, "items": {}}))
            return Container()

    class Client:
        containers = Containers()

    monkeypatch.setattr(docker, "from_env", lambda: Client())
    outcome = DockerExecutor(DockerSettings(image="ladder-worker:test", gpus=0, model_cache=hf)).run(
        manifest, protocol, settings)
    assert outcome.document == {"tasks": []} and seen["removed"] is True
    assert not seen["mode"] & (stat.S_IWOTH | stat.S_IWGRP), f"job folder was {oct(seen['mode'])} during the run"
    _check_least_privilege(seen["spec"], settings, seen["job"], hf)


# ---- what is published ------------------------------------------------------------------------------------------

def _public_texts(client, sid: int) -> dict[str, str]:
    """Everything the leaderboard serves about submission ``sid``: its document, the API's views, every public
    table in full, the per-item downloads and the HTML pages."""
    from leaderboard.api import PUBLIC_TABLES

    got = {}
    for path in (f"/api/submissions/{sid}/document", "/api/submissions", f"/api/submissions/{sid}",
                 *(f"/api/submissions/{sid}/{kind}.json" for kind in ("verdicts", "predictions", "seeds"))):
        res = client.get(path)
        assert res.status_code == 200, path
        got[path] = res.text
    for table in PUBLIC_TABLES:
        offset, total = 0, None
        while total is None or offset < total:
            res = client.get(f"/api/tables/{table}", params={"limit": 1000, "offset": offset})
            assert res.status_code == 200, table
            total = res.json()["total"]
            got[f"/api/tables/{table}?offset={offset}"] = res.text
            offset += 1000
    for path in (f"/submissions/{sid}", "/submissions", "/"):
        res = client.get(path, headers={"accept": "text/html"})
        assert res.status_code == 200, path
        got[path] = res.text
    return got


@pytest.mark.slow
def test_public_documents_and_tables_name_no_host_pid_path_or_kernel(demo_data_dir, small_profile, tmp_path):
    from fastapi.testclient import TestClient

    from harness.executors import get_executor
    from harness.store import connect, migrate
    from harness.store import queue as q
    from harness.worker import process_one, worker_name
    from leaderboard.app import create_app

    data = tmp_path / "data"
    shutil.copytree(demo_data_dir / "students", data / "students")
    url = f"sqlite:///{data / 'ladder.db'}"
    migrate(url)
    engine = connect(url)
    manifest = load_manifest(STRONG)
    protocol = get_protocol(small_profile)
    key = q.ProtocolKey(version=protocol.version, profile=protocol.profile, digest=protocol.digest(),
                        config=protocol.model_dump(mode="json"))
    sub, _ = q.submit(engine, manifest.model_dump(mode="json"), manifest.digest(), key)
    settings = Settings(data_dir=data)
    worker = worker_name()
    assert worker == worker_name(), "one process, one worker id (the queue's lease compares it)"
    assert process_one(engine, settings, get_executor("local"), worker, lease_seconds=120) == sub.id
    done = q.get(engine, sub.id)
    assert done.status == "succeeded", done.failure_reason

    host, pid, kernel = socket.gethostname(), str(os.getpid()), platform.release()
    host_word = re.compile(rf"(?<![\w-]){re.escape(host)}(?![\w-])")
    with TestClient(create_app(Settings(data_dir=tmp_path / "web", web_cache_seconds=0), engine=engine)) as client:
        texts = _public_texts(client, sub.id)
        rows = client.get("/api/tables/submissions").json()["items"]
    for where, text in texts.items():
        assert not host_word.search(text), f"{where} names the host {host!r}"
        assert f"{host}:{pid}" not in text, f"{where} carries the worker's host and pid"
        assert str(data) not in text and str(data.resolve()) not in text, f"{where} carries a path under the data dir"
        assert str(tmp_path) not in text, f"{where} carries an absolute host path"
        assert kernel not in text, f"{where} carries the kernel release {kernel!r}"
    (row,) = rows
    assert row["worker"] == worker and re.fullmatch(r"worker-[0-9a-f]{12}", worker), "an opaque worker id"
    # What reproduces the result is still published.
    doc = json.loads(texts[f"/api/submissions/{sub.id}/document"])
    audit = doc["tasks"][0]["audit"]
    hardware = audit["provenance"]["hardware"]
    assert {"python", "cpu_count", "machine"} <= set(hardware) and "torch" in audit["provenance"]["packages"]
    assert audit["verdicts_path"].startswith("artifacts/verdicts/")
    student = doc["tasks"][0]["students"][0]
    assert student["baseline_predictions"].startswith("artifacts/baselines/")
    assert all(s["post_predictions"].startswith("runs/") for s in student["seeds"])


def test_published_forms_name_no_host_pid_path_or_kernel(tmp_path):
    """The pieces, without a run: the worker id, the hardware record and a document's paths."""
    from harness.provenance import hardware
    from harness.publish import public_document
    from harness.worker import worker_name

    host, kernel = socket.gethostname(), platform.release()
    worker = worker_name()
    assert worker == worker_name() and re.fullmatch(r"worker-[0-9a-f]{12}", worker) and host not in worker
    info = json.dumps(hardware())
    assert kernel not in info and f'"{host}"' not in info
    data = tmp_path / "data"
    settings = Settings(data_dir=data, artifacts_readonly_dir=Path("/shared/artifacts"))
    doc = {"verdicts_path": f"{data}/artifacts/verdicts/v.jsonl", "model": {"path": f"{data}/students/tiny-x"},
           "baseline_predictions": "/shared/artifacts/baselines/b.json",
           "seeds": [{"post_predictions": f"{data}/runs/r/t/s.seed1.post.json"}],
           "other": {"path": "/home/someone/models/judge"}, "failure": f"OSError: no such file: '{data}/runs/r'",
           "note": f"{data}-elsewhere/x"}
    assert public_document(doc, settings) == {
        "verdicts_path": "artifacts/verdicts/v.jsonl", "model": {"path": "students/tiny-x"},
        "baseline_predictions": "artifacts/baselines/b.json",
        "seeds": [{"post_predictions": "runs/r/t/s.seed1.post.json"}],
        "other": {"path": "judge"}, "failure": "OSError: no such file: 'runs/r'", "note": f"{data}-elsewhere/x"}
