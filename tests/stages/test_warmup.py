"""The demo students' warm-up: middling accuracy, and every answer option in use (not a degenerate student)."""

from __future__ import annotations

import json

import pytest

from harness.config import WarmupConfig
from harness.documents import Prediction
from harness.stages.warmup import WarmupReport, answer_shares
from harness.tasks import get_task


def test_answer_shares_count_parsed_letters_over_all_answers():
    items = get_task("shapes").items(limit=4)
    preds = [Prediction(item_id=it.id, response=r, parsed=p, correct=False, method="x")
             for it, (r, p) in zip(items, [("A", "A"), ("A", "A"), ("C", "C"), ("??", None)], strict=True)]
    assert answer_shares(preds, items) == {"A": 0.5, "B": 0.0, "C": 0.25, "D": 0.0}


def test_band_must_be_ordered():
    with pytest.raises(ValueError, match="target_low"):
        WarmupConfig(target_low=0.8, target_high=0.6)
    with pytest.raises(ValueError, match=r"min_answer_share \(0.4\).*max_answer_share \(0.3\)"):
        WarmupConfig(min_answer_share=0.4, max_answer_share=0.3)


@pytest.mark.parametrize(("acc", "shares", "accepted"), [
    (0.6, {"A": 0.25, "B": 0.25, "C": 0.2, "D": 0.3}, True),
    (0.6, {"A": 0.25, "B": 0.24, "C": 0.14, "D": 0.37}, False),  # over-uses D: any spreading update helps it
    (0.6, {"A": 0.3, "B": 0.3, "C": 0.35, "D": 0.05}, False),  # never says D
    (0.9, {"A": 0.25, "B": 0.25, "C": 0.25, "D": 0.25}, False),  # above the band
])
def test_a_warm_up_is_kept_only_in_the_band_and_balanced(acc, shares, accepted):
    cfg = WarmupConfig()
    report = WarmupReport(steps=1, probe_accuracy=acc, in_band=cfg.target_low <= acc <= cfg.target_high,
                          history=[], answer_shares=shares)
    assert report.accepted(cfg) is accepted


@pytest.mark.slow
def test_demo_students_are_middling_and_use_every_answer(demo_data_dir):
    from harness.config import get_protocol

    reports = [json.loads(p.read_text()) for p in sorted((demo_data_dir / "students").glob("*/warmup.json"))]
    assert len(reports) == 2
    cfg = get_protocol("demo").students[0].warmup
    for r in reports:
        assert r["in_band"] and cfg.target_low <= r["probe_accuracy"] <= cfg.target_high, r
        assert set(r["answer_shares"]) == {"A", "B", "C", "D"}
        assert cfg.min_answer_share <= min(r["answer_shares"].values()), r["answer_shares"]
        assert max(r["answer_shares"].values()) <= cfg.max_answer_share, r["answer_shares"]
        assert 1 <= r["attempts"] <= cfg.attempts and r["seed"] == cfg.seed + r["attempts"] - 1


@pytest.mark.parametrize("family", ["qwen2_5_vl", "qwen3_vl"])
def test_warmup_trains_the_assistant_turn_as_dpo_sees_it(tiny_model_dirs, family):
    """The warm-up's labels are the whole assistant turn the chat template renders (answer, end token and the
    newline after it), the completion self-DPO trains on; an untaught trailing token would take most of the SFT
    gradient of self-DPO's first steps."""
    from harness.config import ModelRef
    from harness.models.loading import load_vlm
    from harness.stages.warmup import _batch_inputs

    _, processor = load_vlm(ModelRef(path=tiny_model_dirs[family]))
    items = get_task("shapes").items(limit=3)
    enc = _batch_inputs(processor, items)
    for row, it in zip(enc["labels"], items, strict=True):
        taught = processor.tokenizer.decode([t for t in row.tolist() if t != -100])
        assert taught == f"{it.answer}<|im_end|>\n"


def test_confusion_relabels_a_share_with_the_next_letter_and_keeps_every_letter_in_use():
    """The confused warm-up labels a fixed share of its pool with the option after the answer (D wraps to A): a
    student that hesitates between each answer and one neighbour, while every letter stays about a quarter of the
    labels (a letter the labels over-use would make any spreading update look like a gain)."""
    from harness.stages.warmup import confused

    items = get_task("shapes").items(limit=800)
    out = confused(items, 0.4, seed=3)
    moved = [(a.answer, b.answer) for a, b in zip(items, out, strict=True) if a.answer != b.answer]
    assert all(b == "ABCD"[("ABCD".index(a) + 1) % 4] for a, b in moved)
    assert 0.35 < len(moved) / len(items) < 0.45
    shares = [sum(it.answer == letter for it in out) / len(out) for letter in "ABCD"]
    assert max(shares) - min(shares) < 0.08, shares
    assert [it.answer for it in confused(items, 0.4, seed=3)] == [it.answer for it in out]
    assert [it.answer for it in confused(items, 0.4, seed=4)] != [it.answer for it in out]
    assert confused(items, 0.0, seed=3) == list(items)
