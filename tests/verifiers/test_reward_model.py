"""The reward_model backend (issue 19) on a tiny Qwen2.5-VL-class reward model built here: the real backbone class
plus a value head saved as Skywork-VL-Reward publishes one (``value_head.safetensors``, TRL's keys)."""

from __future__ import annotations

import json
import math
import shutil

import pytest
import yaml

from harness.stages.verdict import parse_verdict
from harness.submission import ManifestError, parse_manifest
from harness.tasks import get_task
from harness.verifiers.base import JudgeRequest
from harness.verifiers.reward_model import reward_to_score

SCALE, OFFSET = 0.05, 0.01


def _manifest(path, batch_size: int = 8, **extra) -> dict:
    return {"name": "tiny-rm", "family": "tiny-rm", "release": "1", "owner": "tests", "backend": "reward_model",
            "model": {"path": str(path)}, "generation": {"batch_size": batch_size},
            "reward": {"scale": SCALE, "offset": OFFSET}, "cost": {"kind": "none", "priced_on": "2026-12-03"},
            **extra}


@pytest.fixture(scope="module")
def reward_dir(tiny_model_dirs, tmp_path_factory):
    """A tiny reward model: the saved tiny Qwen2.5-VL backbone and a seeded value head beside it."""
    from transformers import AutoConfig

    from harness.models.tiny import save_value_head

    folder = tmp_path_factory.mktemp("rm") / "tiny-rm"
    shutil.copytree(tiny_model_dirs["qwen2_5_vl"], folder)
    save_value_head(AutoConfig.from_pretrained(folder).text_config.hidden_size, folder, seed=3)
    return folder


def _backend(path, batch_size: int = 8):
    from harness.verifiers.reward_model import RewardModelBackend

    return RewardModelBackend(parse_manifest(_manifest(path, batch_size)), device="cpu")


def _requests(n_items: int = 3) -> list[JudgeRequest]:
    items = get_task("shapes").items()[:n_items]
    return [JudgeRequest(item_id=it.id, candidate_index=c, images=it.images, prompt="(unused rubric)",
                         question=it.prompt, candidate=answer)
            for it in items for c, answer in enumerate(("A", "the answer is C, I think", "D"))]


def test_the_reward_is_the_value_head_on_the_last_token_whatever_the_batch(reward_dir):
    """Each reward equals the head applied by hand to the final hidden state of that conversation alone (no
    padding), in batches of 1 and of 8 (left padding must not move the last token); the score is the declared
    logistic of it, and the raw reward is in the judgment's text."""
    import torch
    from safetensors.torch import load_file

    from harness.models.generate import answered_conversation

    requests = _requests()
    one, many = _backend(reward_dir, 1), _backend(reward_dir, 8)
    judged = many.judge(requests)
    assert all(j.error is None and j.output_tokens == 0 and j.input_tokens > 10 for j in judged)
    rewards = [json.loads(j.text)["reward"] for j in judged]
    assert rewards == pytest.approx([json.loads(j.text)["reward"] for j in one.judge(requests)], abs=1e-5)
    assert len({round(r, 6) for r in rewards}) > len(rewards) // 2, "a reward model that ignores its input"

    head = load_file(str(reward_dir / "value_head.safetensors"))
    model, processor = one.model, one.processor
    for req, reward, j in zip(requests, rewards, judged, strict=True):
        text = processor.apply_chat_template(answered_conversation(req.images, req.question, req.candidate),
                                             add_generation_prompt=False, tokenize=False)
        inputs = processor(text=[text], images=[req.images], return_tensors="pt")
        with torch.inference_mode():
            h = model(**inputs, output_hidden_states=True).hidden_states[-1][0, -1]
        expected = float(h @ head["v_head.summary.weight"][0] + head["v_head.summary.bias"][0])
        assert reward == pytest.approx(expected, abs=1e-5)
        assert parse_verdict(j.text).score == pytest.approx(1 / (1 + math.exp(-(reward - OFFSET) / SCALE)))


def test_reward_to_score_is_the_declared_logistic_for_any_reward():
    assert reward_to_score(OFFSET, SCALE, OFFSET) == 0.5
    assert reward_to_score(1e9, 1.0, 0.0) == 1.0 and reward_to_score(-1e9, 1.0, 0.0) == 0.0  # no overflow
    assert reward_to_score(2.0, 2.0, 0.0) == pytest.approx(1 / (1 + math.exp(-1)))


def test_a_request_without_question_and_candidate_is_a_recorded_failure(reward_dir):
    req = _requests(1)[0]
    bare = JudgeRequest(item_id=req.item_id, candidate_index=0, images=req.images, prompt="rubric only")
    [judged] = _backend(reward_dir).judge([bare])
    assert judged.text is None and "needs the question and the candidate" in judged.error


@pytest.mark.parametrize(("change", "message"), [
    ({"rubric_template": "{{ question }} {{ candidate }} ok?"}, "no judging section and no rubric_template"),
    ({"judging": {"mode": "text"}}, "no judging section and no rubric_template"),
    ({"reward": {"head_file": "../secrets/value_head.safetensors"}}, "head_file"),
    ({"reward": {"head_file": "value_head.bin"}}, "head_file"),
    ({"reward": {"scale": 0}}, "scale"),
])
def test_bad_reward_model_manifests_are_refused(tmp_path, change, message):
    with pytest.raises(ManifestError, match=message):
        parse_manifest({**_manifest(tmp_path), **change})


def test_the_reward_section_belongs_to_the_reward_model_backend(tmp_path):
    with pytest.raises(ManifestError, match="'reward' section is for backend 'reward_model', not 'hf'"):
        parse_manifest({**_manifest(tmp_path), "backend": "hf"})


def test_a_value_head_of_another_layout_or_size_is_refused_at_load(reward_dir, tmp_path):
    import torch
    from safetensors.torch import save_file

    from harness.verifiers.reward_model import RewardModelBackend

    wrong_keys, wrong_size = tmp_path / "keys", tmp_path / "size"
    for folder in (wrong_keys, wrong_size):
        shutil.copytree(reward_dir, folder)
    save_file({"score.weight": torch.zeros(1, 8)}, str(wrong_keys / "value_head.safetensors"))
    save_file({"v_head.summary.weight": torch.zeros(1, 7), "v_head.summary.bias": torch.zeros(1)},
              str(wrong_size / "value_head.safetensors"))
    with pytest.raises(ValueError, match=r"no \['v_head.summary.weight', 'v_head.summary.bias'\] \(found \['score"):
        RewardModelBackend(parse_manifest(_manifest(wrong_keys)), device="cpu")
    with pytest.raises(ValueError, match="reads 7 features, the backbone's hidden size is"):
        RewardModelBackend(parse_manifest(_manifest(wrong_size)), device="cpu")


def _audit(manifest_dir, small_pack, tmp_path, name: str) -> tuple[dict, list[dict]]:
    from typer.testing import CliRunner

    from harness.cli import app

    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(_manifest(manifest_dir)))
    res = CliRunner().invoke(app, ["audit", str(path), "--task", "shapes", "--profile", small_pack["profile"],
                                   "--pack", str(small_pack["pack"].root), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    with open(out["verdicts_path"], encoding="utf-8") as fh:
        return out, [json.loads(line) for line in fh]


def test_an_audit_of_the_tiny_reward_model_keeps_raw_rewards_and_survives_save_and_reload(
        reward_dir, small_pack, tmp_path, monkeypatch):
    """issue 19's must-show: `ladder audit` of the tiny reward model on shapes (the demo students' candidates, from
    an audit pack) gives every judgment's raw reward and score, AUROC and pair-direction accuracy; the checkpoint
    saved again from the loaded model (backbone, processor and value head) audits to the same numbers."""
    from harness.models.tiny import save_value_head
    from harness.verifiers.reward_model import RewardModelBackend

    monkeypatch.setenv("LADDER_DATA_DIR", str(small_pack["data"]))
    monkeypatch.setenv("LADDER_DATABASE_URL", f"sqlite:///{tmp_path / 'rm.db'}")
    first, verdicts = _audit(reward_dir, small_pack, tmp_path, "rm")
    assert len(verdicts) == 2 * 20 * 4 and first["parse_failure_rate"] == 0
    for v in verdicts:
        raw = json.loads(v["raw"])
        assert v["score"] == raw["score"] == pytest.approx(reward_to_score(raw["reward"], SCALE, OFFSET))
        assert v["verdict"] == (v["score"] >= 0.5) and v["output_tokens"] == 0
    metrics = first["metrics"]
    assert 0 <= metrics["auroc"] <= 1 and 0 <= first["pair_direction_accuracy"] <= 1

    loaded = RewardModelBackend(parse_manifest(_manifest(reward_dir)), device="cpu")
    again = tmp_path / "resaved"
    loaded.model.save_pretrained(again)
    loaded.processor.save_pretrained(again)
    save_value_head(loaded.head.in_features, again, weight=loaded.head.weight)
    second, verdicts2 = _audit(again, small_pack, tmp_path, "rm-resaved")
    assert [json.loads(v["raw"])["reward"] for v in verdicts2] == pytest.approx(
        [json.loads(v["raw"])["reward"] for v in verdicts], abs=1e-5)
    for key in ("rubric_accuracy", "ci_low", "ci_high", "pair_direction_accuracy", "gated_pair_direction_accuracy"):
        assert second[key] == first[key], key
    assert second["metrics"]["auroc"] == pytest.approx(metrics["auroc"])
