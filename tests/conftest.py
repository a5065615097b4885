"""Shared test setup: offline hub, throw-away caches, tiny models built once per session."""

from __future__ import annotations

import os

import pytest

# Nothing in the tests may reach a hub; caches go to a temporary folder, never the user's.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True, scope="session")
def _isolated_caches(tmp_path_factory):
    root = tmp_path_factory.mktemp("caches")
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_DATASETS_CACHE", str(root / "datasets"))
    mp.setenv("LADDER_DATA_DIR", str(root / "ladder"))
    import datasets.config

    mp.setattr(datasets.config, "HF_DATASETS_CACHE", root / "datasets")
    yield
    mp.undo()


@pytest.fixture(scope="session")
def tiny_model_dirs(tmp_path_factory):
    """Folders of a saved tiny Qwen2.5-VL- and Qwen3-VL-class model, keyed by family."""
    from harness.config import TinySpec
    from harness.models.tiny import save_tiny

    root = tmp_path_factory.mktemp("tiny")
    return {fam: save_tiny(TinySpec(family=fam), root / fam) for fam in ("qwen2_5_vl", "qwen3_vl")}


@pytest.fixture(scope="session")
def demo_data_dir(tmp_path_factory):
    """A data directory holding the demo profile's two warmed-up tiny students (built once).

    The warm-up is the real one of the demo profile (about a minute per student on 2 cores);
    every test that runs a protocol stage on the demo profile reuses it.
    """
    from harness.config import get_protocol
    from harness.stages.students import resolve_student

    root = tmp_path_factory.mktemp("demo-data")
    protocol = get_protocol("demo")
    for student in protocol.students:
        resolve_student(student, root, protocol.split_seed)
    return root


@pytest.fixture(scope="session")
def demo_ladder(demo_data_dir):
    """The whole demo ladder (4 verifiers x 2 students x the demo's training seeds, the real demo protocol, what
    `make demo` runs, one seed run per CPU core at a time): {stem: (manifest, result)}.

    Run once per session; the findings test and the browser test of the leaderboard share it.
    """
    from pathlib import Path

    from harness.config import get_protocol
    from harness.runner import run_protocol
    from harness.settings import Settings
    from harness.submission import load_manifest

    settings = Settings(data_dir=demo_data_dir)
    protocol = get_protocol("demo")
    out = {}
    for path in sorted(Path("submissions/demo").glob("*.yaml")):
        manifest = load_manifest(path)
        out[path.stem] = (manifest, run_protocol(manifest, protocol, settings, jobs=os.cpu_count() or 1))
    return out


@pytest.fixture(scope="session")
def small_pack(tmp_path_factory, demo_data_dir):
    """Audit packs of a cut-down demo protocol (20 audit items x 4 candidates per student), built once from the demo
    students: {"profile": its JSON file, "data": the data dir, "pack": the pack, "embedded": one with its images}."""
    from harness.config import get_protocol
    from harness.settings import Settings
    from harness.stages.pack import build_pack

    root = tmp_path_factory.mktemp("packs")
    profile = root / "small.json"
    demo = get_protocol("demo")
    small = demo.model_copy(update={"audit": demo.audit.model_copy(update={"size": 20, "k": 4})})
    profile.write_text(small.model_dump_json())
    settings = Settings(data_dir=demo_data_dir)
    return {"profile": str(profile), "data": demo_data_dir,
            "pack": build_pack(small, settings, root / "pack"),
            "embedded": build_pack(small, settings, root / "embedded", embed_images=True)}


@pytest.fixture
def demo_settings(demo_data_dir, monkeypatch):
    """Settings pointing at the shared demo data directory (LADDER_DATA_DIR set for CLI calls too)."""
    from harness.settings import get_settings

    monkeypatch.setenv("LADDER_DATA_DIR", str(demo_data_dir))
    return get_settings()


@pytest.fixture
def small_profile(tmp_path) -> str:
    """A demo protocol cut down to seconds (20 audit items, 2 rounds of 24 prompts, 2 training seeds), saved as JSON.

    For plumbing (queue, store, worker, compare): its dozen DPO steps cannot separate two verifiers'
    students from training noise, so it trains at the production learning rate (2e-5), where the tiny
    students barely move; the effects of training are asserted on the full demo ladder.
    """
    from harness.config import AuditConfig, SelfDPOConfig, get_protocol

    demo = get_protocol("demo")
    small = demo.model_copy(update={
        "audit": AuditConfig(size=20, k=4, max_new_tokens=4),
        "selfdpo": demo.selfdpo.model_copy(update={"rounds": 2, "prompts_per_round": 24, "k": 4, "probe_size": 10,
                                                   "learning_rate": SelfDPOConfig().learning_rate, "seeds": 2}),
    })
    path = tmp_path / "small-protocol.json"
    path.write_text(small.model_dump_json())
    return str(path)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):
    """A migrated, empty store: a SQLite file, or a fresh schema in the PostgreSQL at LADDER_TEST_DATABASE_URL."""
    from tests.fixtures.store import store_at

    yield from store_at(request.param, tmp_path)
