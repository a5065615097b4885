"""Executors: the container spec is locked down; a Ray task on a local cluster runs the real protocol."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.config import get_protocol
from harness.executors import ExecutorError, get_executor, read_outcome
from harness.registry import UnknownNameError
from harness.settings import Settings
from harness.submission import load_manifest

STRONG = Path("submissions/demo/strong.yaml")


def test_executors_are_registered_by_name_with_did_you_mean():
    assert {type(get_executor(n)).name for n in ("local", "docker", "ray")} == {"local", "docker", "ray"}
    with pytest.raises(UnknownNameError, match="docker"):
        get_executor("dokcer")


def test_docker_container_is_locked_down_and_requests_the_gpus(tmp_path):
    from harness.executors.docker import DockerSettings, container_spec

    cfg = DockerSettings(image="ladder-worker:test", gpus=2, memory="8g", model_cache=tmp_path / "hf")
    (tmp_path / "hf").mkdir()
    job = tmp_path / "job"
    job.mkdir()
    protocol = get_protocol("demo").model_dump(mode="json")
    spec = container_spec(load_manifest(STRONG).model_dump(mode="json"), protocol, Settings(data_dir=tmp_path / "d"),
                          cfg, job)
    assert spec["network_mode"] == "none" and spec["read_only"] is True and "/tmp" in spec["tmpfs"]
    assert not spec["user"].startswith("0:")  # the worker's own user, or the image's when the worker is root
    assert spec["cap_drop"] == ["ALL"] and "no-new-privileges" in spec["security_opt"]
    assert spec["mem_limit"] == "8g" and spec["pids_limit"] > 0
    (gpu,) = spec["device_requests"]
    assert gpu["Count"] == 2 and gpu["Capabilities"] == [["gpu"]]
    cache = next(m for m in spec["mounts"] if m["Target"] == "/cache/hf")
    assert cache["ReadOnly"] is True
    assert spec["environment"]["HF_HUB_OFFLINE"] == "1"
    assert spec["entrypoint"] == ["ladder"] and spec["command"][0] == "execute"
    assert (job / "manifest.json").exists() and "--profile" in spec["command"]
    assert json.loads((job / "protocol.json").read_text()) == protocol, "the queued protocol travels with the job"
    cpu = container_spec({}, protocol, Settings(data_dir=tmp_path / "d"), DockerSettings(gpus=0), job)
    assert "device_requests" not in cpu


def test_missing_or_garbled_outcome_is_an_executor_error(tmp_path):
    with pytest.raises(ExecutorError, match="no readable result"):
        read_outcome(tmp_path / "absent.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ExecutorError):
        read_outcome(tmp_path / "bad.json")


@pytest.mark.slow
def test_ray_task_on_a_local_cluster_gives_the_local_executors_result(demo_data_dir, small_profile, tmp_path):
    ray = pytest.importorskip("ray")
    from harness.executors.ray import RayExecutor, RaySettings

    manifest = load_manifest(STRONG).model_dump(mode="json")
    results = {}
    for name in ("local", "ray"):
        data = tmp_path / name
        shutil.copytree(demo_data_dir / "students", data / "students")
        executor = RayExecutor(RaySettings(gpus=0, cpus=1)) if name == "ray" else get_executor("local")
        try:
            results[name] = executor.run(manifest, get_protocol(small_profile).model_dump(mode="json"),
                                         Settings(data_dir=data))
        finally:
            if name == "ray":
                ray.shutdown()
    local, remote = results["local"], results["ray"]
    assert remote.document_status == "succeeded"
    def numbers(doc):
        return [[(s["student"], s["delta"], [x["post"] for x in s["seeds"]]) for s in t["students"]]
                for t in doc["tasks"]]

    assert numbers(local.document) == numbers(remote.document)
    assert len(remote.items["predictions"]) == len(local.items["predictions"]) == 2 * (1 + 2) * 1200
