"""The vllm backend's engine and sampling arguments, checked against vLLM's published argument schema (read from the
wheel the GPU image installs: tests/fixtures/vllm_schema.py), since vLLM itself cannot be imported on a CPU; and, where
vLLM is installed (the GPU image), by building its ``EngineArgs`` for real."""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path

import pytest

from harness.submission import load_manifest
from harness.verifiers.vllm import MAX_MODEL_LEN, engine_args, sampling_args

SCHEMA = json.loads((Path(__file__).parents[1] / "fixtures" / "vllm-0.33.0-args.json").read_text())
MANIFESTS = sorted(p for p in Path("submissions").rglob("*.yaml")
                   if p.name != "TEMPLATE.yaml" and load_manifest(p).backend == "vllm")


def _fits(value, annotation: str) -> bool:
    """A value against a field's annotation as written in vLLM's source (``str | None``, ``dict[str, ...]``,
    ``ModelDType``): the value's type is one of the annotation's alternatives."""
    if annotation == "ModelDType":
        return value in SCHEMA["model_dtype"]
    names = {"str": str, "int": int, "bool": bool, "float": (int, float), "dict": dict, "None": type(None)}
    alternatives = {re.match(r"\w+", a.strip()).group(0) for a in annotation.split("|")}
    return any(isinstance(value, names[a]) and not (a == "int" and isinstance(value, bool))
               for a in alternatives if a in names)


def test_the_production_rungs_use_the_vllm_backend():
    assert {p.stem for p in MANIFESTS} >= {"qwen2.5-vl-3b", "qwen2.5-vl-7b", "qwen3-vl-4b", "qwen3-vl-8b"}


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.stem)
def test_engine_arguments_are_valid_for_the_pinned_vllm(path):
    manifest = load_manifest(path)
    args = engine_args(manifest)
    accepted = SCHEMA["engine_args"] | SCHEMA["llm_init"]  # LLM(**kwargs) passes the rest to EngineArgs
    for name, value in args.items():
        assert name in accepted, f"vLLM {SCHEMA['vllm']} has no engine argument {name!r}"
        assert _fits(value, accepted[name]), (name, value, accepted[name])
    assert args["model"] == manifest.model.hub_id and args["revision"] == manifest.model.revision
    assert args["limit_mm_per_prompt"] == {"image": 7, "video": 0}  # MMMU's most images per item; no video
    assert args["generation_config"] == "vllm" and args["trust_remote_code"] is False
    # the checkpoints' own limits (Qwen3-VL 262,144, Qwen2.5-VL 128,000: their published config.json) are higher
    assert args["max_model_len"] == MAX_MODEL_LEN


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.stem)
def test_sampling_arguments_are_valid_and_ignore_the_checkpoints_defaults(path):
    manifest = load_manifest(path)
    args = sampling_args(manifest)
    for name, value in args.items():
        assert name in SCHEMA["sampling_params"] and _fits(value, SCHEMA["sampling_params"][name]), (name, value)
    if manifest.judging is not None and manifest.judging.mode == "logprob":
        assert args == {"temperature": 0.0, "max_tokens": 1, "logprobs": manifest.judging.top_logprobs}
    else:
        assert (args["top_k"], args["repetition_penalty"]) == (0, 1.0)
        assert args["max_tokens"] == manifest.generation.max_new_tokens


def test_a_local_checkpoint_with_a_short_context_caps_the_model_length(tmp_path):
    from harness.submission import parse_manifest

    (tmp_path / "config.json").write_text(json.dumps({"text_config": {"max_position_embeddings": 4096}}))
    manifest = parse_manifest({
        "name": "v", "family": "v", "release": "1", "owner": "t", "backend": "vllm", "model": {"path": str(tmp_path)},
        "cost": {"kind": "none", "priced_on": "2026-12-01"}})
    assert engine_args(manifest)["max_model_len"] == 4096


def test_the_backend_builds_its_engine_from_these_arguments(monkeypatch):
    built = {}
    module = types.ModuleType("vllm")

    class LLM:
        def __init__(self, **kw):
            built["engine"] = kw

    class SamplingParams:
        def __init__(self, **kw):
            built["sampling"] = kw

    module.LLM, module.SamplingParams = LLM, SamplingParams
    monkeypatch.setitem(sys.modules, "vllm", module)
    from harness.verifiers.vllm import VLLMBackend

    manifest = load_manifest("submissions/ladder/qwen3-vl-8b.yaml")
    VLLMBackend(manifest)
    assert built == {"engine": engine_args(manifest), "sampling": sampling_args(manifest)}


def test_vllms_own_engine_args_accept_them_where_vllm_is_installed():
    """Runs in the GPU image (vLLM installed); vLLM cannot be installed beside the CPU torch."""
    arg_utils = pytest.importorskip("vllm.engine.arg_utils")
    for path in MANIFESTS:
        arg_utils.EngineArgs(**engine_args(load_manifest(path)))
