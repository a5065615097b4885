"""Self-DPO: pair formation, the replay gate, a real TRL round on a demo student, bad states."""

from __future__ import annotations

import math

import pytest

from harness.config import get_protocol
from harness.documents import SelfDPOResult
from harness.models.loading import load_vlm
from harness.stages import selfdpo as sd
from harness.stages.common import render_rubric
from harness.stages.students import resolve_student
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
    res = SelfDPOResult(student="s", task="t", rounds=[], judgments=0, device_seconds=0,
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
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    res = sd.self_dpo(model, processor, task, train, train[:20], backend, render_rubric(protocol.rubric_template),
                      cfg, "tiny", tmp_path)
    (r,) = res.rounds
    assert r.prompts == 48 and r.judgments == 48 * 4 and res.judgments == 192
    assert 0 < r.pairs_admitted <= r.pairs_formed <= 48
    assert r.direction_admitted.value > 0.8 and r.steps == cfg.epochs * math.ceil(r.pairs_admitted / cfg.batch_size)
    assert len(res.loss_curve) == r.steps and all(math.isfinite(v) for _, v in res.loss_curve)
    assert r.reward_accuracy is not None and r.probe_accuracy is not None
    after = dict(model.named_parameters())
    if cfg.lora:  # the demo's LoRA: the base weights stay, the adapter (lora_B starts at zero) has learned
        assert all((after[n] == p).all() for n, p in before.items() if n in after)
        assert any(float(p.abs().sum()) > 0 for n, p in after.items() if "lora_B" in n)
    else:
        assert any(not (after[n] == p).all() for n, p in before.items())


def test_nan_loss_is_an_error_not_a_result(student_and_train, tmp_path, monkeypatch):
    ref, task, train, protocol = student_and_train
    model, processor = load_vlm(ref)
    monkeypatch.setattr(sd, "train_dpo", lambda *a, **k: [{"loss": float("nan")}])
    cfg = protocol.selfdpo.model_copy(update={"rounds": 1, "prompts_per_round": 16, "k": 4, "probe_size": 0})
    backend = make_backend(load_manifest("submissions/demo/strong.yaml"))
    with pytest.raises(FloatingPointError, match="not finite"):
        sd.self_dpo(model, processor, task, train, [], backend, render_rubric(protocol.rubric_template), cfg,
                    "tiny", tmp_path)


def _oracle_rows(task, train, n=16):
    pairs = [sd.Pair(item_id=it.id, chosen=it.answer, rejected="A" if it.answer != "A" else "B", margin=1.0,
                     chosen_truth=True, rejected_truth=False, round=0) for it in train[:n]]
    return sd._rows(pairs, {it.id: it for it in train})


def test_a_lora_student_keeps_every_round_of_training(student_and_train, tmp_path):
    """Production trains LoRA adapters: the second round continues the first round's adapter (handing TRL a
    peft_config each round silently re-initialised it, so a run kept only its last round)."""
    ref, task, train, protocol = student_and_train
    model, processor = load_vlm(ref)
    cfg = protocol.selfdpo.model_copy(update={"lora": True, "lora_r": 4, "learning_rate": 1e-3, "epochs": 1})
    trainee = sd.Trainee(model, cfg)
    rows = _oracle_rows(task, train)

    def adapter():
        return {n: p.detach().clone() for n, p in trainee.model.named_parameters() if "lora_" in n}

    start = adapter()
    assert start and all(".default." in n for n in start)
    sd.train_dpo(trainee, processor, rows, cfg, tmp_path / "r0", seed=0)
    after_one = adapter()
    assert any((after_one[n] != start[n]).any() for n in start)
    sd.train_dpo(trainee, processor, rows, cfg, tmp_path / "r1", seed=1)
    after_two = adapter()
    assert set(after_two) == set(start), "TRL's per-round reference adapter must not stay behind"
    lora_b = [n for n in after_two if "lora_B" in n]
    # Continued, not restarted: B would be back near zero and A freshly drawn after a re-initialisation.
    assert sum(float(after_two[n].norm()) for n in lora_b) > sum(float(after_one[n].norm()) for n in lora_b) * 0.5
    moved = [float((after_two[n] - after_one[n]).norm()) for n in after_two if "lora_A" in n]
    scale = [float(after_one[n].norm()) for n in after_two if "lora_A" in n]
    assert sum(moved) < 0.5 * sum(scale)


def test_the_optimiser_state_carries_across_rounds(student_and_train, tmp_path):
    """One AdamW for the whole run: its step count keeps growing from round to round."""
    ref, task, train, protocol = student_and_train
    model, processor = load_vlm(ref)
    cfg = protocol.selfdpo.model_copy(update={"epochs": 1, "batch_size": 8})
    trainee = sd.Trainee(model, cfg)
    rows = _oracle_rows(task, train)
    steps = []
    for r in range(2):
        sd.train_dpo(trainee, processor, rows, cfg, tmp_path / f"r{r}", seed=r)
        state = next(iter(trainee.optimizer.state.values()))
        steps.append(int(state["step"]))
    assert steps == [2, 4]


@pytest.mark.parametrize("lora", [False, True])
def test_the_reference_is_the_frozen_student_for_the_whole_run(student_and_train, tmp_path, lora):
    """DPO compares against the student as it was before self-DPO, in every round: at the second round's first step
    the policy already differs from its reference by the first round's update (an iterative reference, the student
    as the round starts, would give exactly zero rewards there). Asserted on the rewards' size, not the margin's
    sign: whether round one's preference carries over to round two's first batch depends on the CPU's rounding."""
    ref, task, train, protocol = student_and_train
    model, processor = load_vlm(ref)
    cfg = protocol.selfdpo.model_copy(update={"lora": lora, "lora_r": 4, "epochs": 2, "batch_size": 8,
                                              "learning_rate": 1e-3 if lora else 1e-4})
    trainee = sd.Trainee(model, cfg)
    rows = _oracle_rows(task, train)
    first = sd.train_dpo(trainee, processor, rows, cfg, tmp_path / "r0", seed=0)
    assert first[0]["rewards/margins"] == pytest.approx(0.0, abs=1e-6)  # policy == reference at the start
    second = sd.train_dpo(trainee, processor, rows, cfg, tmp_path / "r1", seed=1)
    moved = max(abs(second[0]["rewards/chosen"]), abs(second[0]["rewards/rejected"]))
    assert moved > 1e-3, second[0]
