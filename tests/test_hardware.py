"""Model geometry for the estimate: read from each checkpoint's config.json (the fetched one in the hub cache at the
pinned revision, else the published copy), the hand-kept catalogue only as a fallback that must agree with them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.config import get_protocol
from harness.estimate import Assumptions
from harness.hardware import ARCHITECTURES, architecture, checkpoint_config, config_geometry
from harness.models import published
from harness.runner import plan
from harness.submission import load_manifest

GEOMETRY = ("layers", "kv_heads", "head_dim", "pixels_per_token")


@pytest.mark.parametrize("hub_id", published.models())
def test_the_catalogue_fallback_matches_every_published_config(hub_id):
    config, where = checkpoint_config(hub_id)
    assert "published copy" in where
    table = ARCHITECTURES.get(hub_id)
    assert config_geometry(config) == {k: getattr(table, k) for k in GEOMETRY}


def test_the_production_students_and_rungs_all_have_a_config():
    hub_ids = {s.model.hub_id for s in get_protocol("production").students}
    hub_ids |= {load_manifest(p).model.hub_id for p in Path("submissions/ladder").glob("*.yaml")}
    assert hub_ids <= set(published.models())
    for hub_id in hub_ids:
        assert architecture(hub_id).source.startswith("config.json"), hub_id


def test_both_config_layouts_give_the_geometry():
    # Qwen2.5-VL's published config keeps the text fields at the top (no head_dim: hidden / heads), Qwen3-VL's nests
    # them in text_config with head_dim
    flat = {"num_hidden_layers": 36, "num_attention_heads": 16, "num_key_value_heads": 2, "hidden_size": 2048,
            "vision_config": {"patch_size": 14, "spatial_merge_size": 2}}
    nested = {"text_config": {"num_hidden_layers": 28, "num_attention_heads": 16, "num_key_value_heads": 8,
                              "head_dim": 128, "hidden_size": 2048},
              "vision_config": {"patch_size": 16, "spatial_merge_size": 2}}
    assert config_geometry(flat) == {"layers": 36, "kv_heads": 2, "head_dim": 128, "pixels_per_token": 28}
    assert config_geometry(nested) == {"layers": 28, "kv_heads": 8, "head_dim": 128, "pixels_per_token": 32}
    assert config_geometry({"model_type": "bert-ish, no decoder fields"}) is None


def _cache(root: Path, hub_id: str, commit: str, config: dict, ref: str = "main") -> None:
    """A hub cache holding one config.json, in huggingface_hub's layout (what `ladder fetch` leaves)."""
    repo = root / f"models--{hub_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / ref).write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True, exist_ok=True)
    (repo / "snapshots" / commit / "config.json").write_text(json.dumps(config))


def test_a_fetched_config_at_the_pinned_revision_wins(tmp_path, monkeypatch):
    import huggingface_hub.constants

    hub_id = "Qwen/Qwen3-VL-2B-Instruct"
    config = published.published_json(hub_id, "config.json")
    config["text_config"]["num_hidden_layers"] = 14  # a revision with half the layers
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    _cache(tmp_path, hub_id, "a" * 40, config)
    fetched = architecture(hub_id)
    assert fetched.layers == 14 and "hub cache" in fetched.source
    assert fetched.kv_bytes_per_token() == ARCHITECTURES.get(hub_id).kv_bytes_per_token() // 2
    assert architecture(hub_id, revision="b" * 40).layers == 28  # not fetched at that revision: the published copy


def test_a_model_without_any_config_falls_back_to_the_catalogue():
    arch = architecture("Skywork/Skywork-VL-Reward-7B")
    assert arch == ARCHITECTURES.get("Skywork/Skywork-VL-Reward-7B") and arch.source.startswith("catalogue")
    assert architecture("someone/unknown-judge", parameters=7_000_000_000).layers == 0
    assert architecture("someone/unknown-judge") is None


@pytest.mark.parametrize("manifest", sorted(Path("submissions/ladder").glob("*.yaml")), ids=lambda p: p.stem)
def test_the_dry_run_plan_is_the_catalogues_with_the_geometry_from_the_configs(manifest, monkeypatch):
    """Reading the geometry from the configs changes where it comes from, not the plan."""
    import harness.hardware

    def estimate():
        return plan(load_manifest(manifest), get_protocol("production"), Assumptions()).estimate

    from_configs = estimate()
    monkeypatch.setattr(harness.hardware, "checkpoint_config", lambda hub_id, revision="main": None)
    from_table = estimate()
    assert from_configs["gpu_hours"] == pytest.approx(from_table["gpu_hours"], rel=1e-12)
    assert from_configs["tasks"] == from_table["tasks"]
    assert all(g["source"].startswith("config.json") for g in from_configs["geometry"].values())
    assert all(g["source"].startswith("catalogue") for g in from_table["geometry"].values())
