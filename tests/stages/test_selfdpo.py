"""Self-DPO: pair formation, the replay gate, a real TRL round on a demo student, bad states."""

from __future__ import annotations

import math

import pytest

from harness.models.loading import load_vlm
from harness.models.students import resolve_student
from harness.protocol import get_protocol
from harness.stages import selfdpo as sd
from harness.stages.audit import render_rubric
from harness.submission import load_manifest
from harness.tasks import get_task
from harness.verifiers import make_backend


def _items(n=3):
    return get_task("shapes", n_items=n).items()


def test_form_pairs_takes_top_and_bottom_and_skips_ties_and_same_text():
    items = _items(4)
    cands = [[("A", True), ("B", False), ("C", False)]] * 4
    scores = [[0.9, 0.1, 0.5], [0.5, 0.5, 0.5], [None, 0.2, 0.8], [0.3, 0.3, 0.1]]
    pairs = sd.form_pairs(items, cands, scores, 0)
    assert [(p.item_id, p.chosen, p.rejected) for p in pairs] == [
        (items[0].id, "A", "B"), (items[2].id, "C", "B"), (items[3].id, "A", "C")]
    assert pairs[0].margin == pytest.approx(0.8) and pairs[0].direction == "right"
    assert pairs[1].direction == "neutral"  # both wrong
    same_text = sd.form_pairs(items[:1], [[("A", True), ("A", True)]], [[0.9, 0.1]], 0)
    assert same_text == []


def test_loss_fell_compares_first_and_last_quarters():
    res = sd.SelfDPOResult(student="s", task="t", rounds=[], judgments=0, device_seconds=0,
                           loss_curve=[(i, v) for i, v in enumerate([4, 4, 3, 3, 2, 2, 1, 1])])
    assert res.loss_fell
    assert not res.model_copy(update={"loss_curve": [(i, 1.0) for i in range(8)]}).loss_fell


@pytest.fixture
def student_and_train(demo_settings):
    protocol = get_protocol("demo")
    ref = resolve_student(protocol.students[1], demo_settings.data_dir)
    task = get_task("shapes")
    items = task.items()
    by_id = {it.id: it for it in items}
    train = [by_id[i] for i in task.splits([it.id for it in items])["train"]]
    return ref, task, train, protocol


def test_one_round_with_a_strong_verifier_trains_on_right_direction_pairs(student_and_train, tmp_path):
    ref, task, train, protocol = student_and_train
    model, processor = load_vlm(ref)
    cfg = protocol.selfdpo.model_copy(update={"rounds": 1, "prompts_per_round": 48, "k": 4, "probe_size": 20})
    backend = make_backend(load_manifest("submissions/demo/strong.yaml"))
    before = [p.detach().clone() for p in model.parameters()]
    res = sd.self_dpo(model, processor, task, train, train[:20], backend, render_rubric(protocol.rubric_template),
                      cfg, "tiny", tmp_path)
    (r,) = res.rounds
    assert r.prompts == 48 and r.judgments == 48 * 4 and res.judgments == 192
    assert 0 < r.pairs_admitted <= r.pairs_formed <= 48
    assert r.direction_admitted.value > 0.8 and r.steps == cfg.epochs * math.ceil(r.pairs_admitted / cfg.batch_size)
    assert len(res.loss_curve) == r.steps and all(math.isfinite(v) for _, v in res.loss_curve)
    assert r.reward_accuracy is not None and r.probe_accuracy is not None
    assert any(not (a == b).all() for a, b in zip(before, model.parameters(), strict=True))  # weights moved


def test_nan_loss_is_an_error_not_a_result(student_and_train, tmp_path, monkeypatch):
    ref, task, train, protocol = student_and_train
    model, processor = load_vlm(ref)
    monkeypatch.setattr(sd, "train_dpo", lambda *a, **k: [{"loss": float("nan")}])
    cfg = protocol.selfdpo.model_copy(update={"rounds": 1, "prompts_per_round": 16, "k": 4, "probe_size": 0})
    backend = make_backend(load_manifest("submissions/demo/strong.yaml"))
    with pytest.raises(FloatingPointError, match="not finite"):
        sd.self_dpo(model, processor, task, train, [], backend, render_rubric(protocol.rubric_template), cfg,
                    "tiny", tmp_path)
