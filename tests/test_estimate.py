"""The dry-run's GPU-hours estimate: roofline arithmetic, the plan's figures, and calibration
by the GPU benchmarks' own JSON (a CPU measurement is refused)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.config import get_protocol
from harness.estimate import Assumptions, EstimateError, dpo_steps, generate_seconds, load_slowdowns, train_seconds
from harness.hardware import ARCHITECTURES, GPUS, Architecture
from harness.runner import plan
from harness.submission import load_manifest

H100 = GPUS.get("H100-80GB")
LADDER = sorted(Path("submissions/ladder").glob("*.yaml"))
REPO = Path(__file__).resolve().parents[1]


def test_batch_of_one_decodes_at_the_weight_read_rate():
    arch = Architecture("x", 8_000_000_000, 0, 0, 0, 28)  # no KV cache: weight reads alone
    s = generate_seconds(arch, H100, sequences=1, batch=1, prompt=1, new=100)
    weights_read = 16e9 / 3.35e12
    assert s == pytest.approx(100 * weights_read + 2 * 8e9 / 989.4e12, rel=1e-9)


def test_a_huge_batch_decodes_at_the_compute_peak():
    arch = Architecture("x", 1_000_000_000, 0, 0, 0, 28)
    s = generate_seconds(arch, H100, sequences=4096, batch=4096, prompt=0, new=10)
    assert s == pytest.approx(10 * 2 * 1e9 * 4096 / 989.4e12, rel=1e-9)


def test_later_tokens_cost_more_as_the_kv_cache_grows():
    arch = ARCHITECTURES.get("Qwen/Qwen3-VL-2B-Instruct")
    first, second = (generate_seconds(arch, H100, 128, 128, 300, n) for n in (256, 512))
    prefill = generate_seconds(arch, H100, 128, 128, 300, 0)
    assert second - first > 1.2 * (first - prefill)


def test_train_step_is_six_flops_per_parameter_per_token():
    arch = Architecture("x", 2_000_000_000, 28, 8, 128, 32)
    assert train_seconds(arch, H100, 10, 8, 500) == pytest.approx(10 * 6 * 2e9 * 16 * 500 / 989.4e12)


def test_dpo_steps_count_replay_as_the_bench_did():
    # 256 new pairs a round in batches of 8; rounds 2 and 3 replay as many again
    assert dpo_steps(3, 256, 1.0, 8) == 32 + 64 + 64
    assert dpo_steps(3, 256, 0.0, 8) == 96
    assert dpo_steps(3, 256, 1.0, 8, epochs=2) == 2 * 160


def test_catalogue_matches_the_published_configs_the_benches_build(tmp_path):
    benches = (("audit_gpu.py", "Qwen/Qwen3-VL-8B-Instruct"), ("selfdpo_gpu.py", "Qwen/Qwen3-VL-2B-Instruct"))
    for script, hub_id in benches:
        res = _bench(script, ["--dry-run"], tmp_path / script)
        assert Architecture(hub_id, **res["architecture"]) == ARCHITECTURES.get(hub_id)


def _estimate(path, **kw):
    return plan(load_manifest(path), get_protocol("production"), Assumptions(**kw)).estimate


def test_ladder_estimates_grow_with_the_verifier_and_price_the_hours():
    hours = {}
    for path in LADDER:
        e = _estimate(path)
        assert e["basis"] == "roofline" and e["gpu"] == "H100-80GB"
        assert set(e["tasks"]) == {"mathvista", "mmmu", "blink"}
        assert e["usd"] == pytest.approx(e["gpu_hours"] * 2.50)
        assert 0 < e["gpu_hours_not_shared"] < e["gpu_hours"]
        assert sum(e["by_kind"].values()) == pytest.approx(e["gpu_hours"]) and e["by_kind"]["judge"] > 0
        hours[load_manifest(path).parameters] = e["gpu_hours"]
    by_size = [hours[p] for p in sorted(hours)]
    assert by_size == sorted(by_size) and by_size[0] < by_size[-1]


def _one_seed(protocol):
    return protocol.model_copy(update={"selfdpo": protocol.selfdpo.model_copy(update={"seeds": 1})})


def test_selfdpo_and_post_eval_scale_with_the_training_seeds_and_the_audit_does_not():
    """Production trains each student with 3 seeds: the self-DPO stage (sampling, judging, DPO steps, probes) and
    the post-DPO evaluation cost exactly 3 times a one-seed protocol's; the audit and the frozen baseline the same;
    the dollars follow the hours."""
    protocol = get_protocol("production")
    seeds = protocol.selfdpo.seeds
    assert seeds == 3
    for path in LADDER:
        manifest = load_manifest(path)
        full, one = plan(manifest, protocol), plan(manifest, _one_seed(protocol))
        e, e1 = full.estimate, one.estimate
        assert (e["training_seeds"], e1["training_seeds"]) == (seeds, 1)
        per_seed_hours = 0.0
        for pt in full.tasks:
            t, t1 = e["tasks"][pt.task], e1["tasks"][pt.task]
            for stage in ("selfdpo", "evaluate"):  # every training seed is a full run from the frozen student
                assert t["by_stage"][stage] == pytest.approx(seeds * t1["by_stage"][stage], rel=1e-12), stage
            for stage in ("audit", "baseline"):  # once per protocol run
                assert t["by_stage"][stage] == pytest.approx(t1["by_stage"][stage], rel=1e-12), stage
            per_seed_hours += t1["by_stage"]["selfdpo"] + t1["by_stage"]["evaluate"]
            assert t["gpu_hours"] - t1["gpu_hours"] == pytest.approx((seeds - 1) * (
                t1["by_stage"]["selfdpo"] + t1["by_stage"]["evaluate"]), rel=1e-9)
            assert e["workload"][pt.task] == {"selfdpo_judgments": seeds * pt.selfdpo_judgments,
                                                 "post_eval_items": seeds * pt.test_items}
        assert e["gpu_hours"] == pytest.approx(e1["gpu_hours"] + (seeds - 1) * per_seed_hours, rel=1e-9)
        assert e["by_kind"]["train"] == pytest.approx(seeds * e1["by_kind"]["train"], rel=1e-12)
        assert e["usd"] == pytest.approx(e1["usd"] + (seeds - 1) * 2.50 * per_seed_hours, rel=1e-9)
        assert e["usd"] == pytest.approx(2.50 * e["gpu_hours"])


def test_dry_run_prints_the_self_dpo_judgments_of_every_training_seed():
    out = CliRunner().invoke(app, ["run", str(LADDER[0]), "--dry-run"])
    assert out.exit_code == 0, out.output
    assert "x 3 training seeds = 18432 judgments per student" in out.output  # 3 rounds x 256 prompts x 8, x 3
    assert "self-DPO and the post-DPO evaluation x 3 training seeds" in out.output


def test_faster_memory_and_shorter_answers_lower_the_estimate():
    rung = LADDER[0]
    base = _estimate(rung)["gpu_hours"]
    h200 = _estimate(rung, gpu="H200")
    assert h200["gpu_hours"] < base and h200["usd"] is None  # the manifest's price is for an H100
    # 32-token answers instead of 512: decoding shrinks ~16x; prefill and the DPO steps' prompt tokens do not
    # (with 3 training seeds the DPO steps weigh a little more: 0.25 of the hours remain, 0.24 with one seed)
    assert _estimate(rung, answer_tokens=32)["gpu_hours"] < base / 3.5


def test_endpoint_verifiers_leave_judging_out():
    e = _estimate("submissions/examples/openai-endpoint.yaml")
    assert "billed per token" in e["judging"] and e["by_kind"]["judge"] == 0
    assert e["gpu_hours"] < min(_estimate(p)["gpu_hours"] for p in LADDER)


def test_every_example_manifest_validates_and_its_dry_run_prints_a_plan_and_a_price():
    """issue 19: the example manifests (a reward model, a vLLM logprob judge, endpoint judges) validate and are priced;
    a reward model's judging is one forward pass per candidate (the prefill alone): cheaper than the same 7B backbone
    judging by one decoded token (logprob), which is cheaper than decoding a rubric answer."""
    examples = sorted(Path("submissions/examples").glob("*.yaml"))
    assert {p.stem for p in examples} >= {"skywork-vl-reward", "vllm-logprob-judge", "logprob-judge"}
    for path in examples:
        out = CliRunner().invoke(app, ["run", str(path), "--dry-run"])
        assert out.exit_code == 0, out.output
        assert re.search(r"total: [0-9.]+ GPU-hours", out.output) and "plan for" in out.output, out.output
        if load_manifest(path).cost.kind == "gpu":
            assert re.search(r"\$[0-9.,]+ at \$2\.50/GPU-hour", out.output), out.output
        else:  # an endpoint judge: its token bill at the manifest's prices
            assert re.search(r"the endpoint's bill at the manifest's prices: [0-9,]+ judgments .* = \$[0-9.,]+",
                             out.output), out.output
    reward, logprob = (_estimate(f"submissions/examples/{n}.yaml") for n in ("skywork-vl-reward", "vllm-logprob-judge"))
    text = _estimate("submissions/ladder/qwen2.5-vl-7b.yaml")
    assert "one forward pass per candidate, no decoding" in reward["judging"]
    assert 0 < reward["by_kind"]["judge"] < logprob["by_kind"]["judge"] < text["by_kind"]["judge"]


def test_tiny_students_get_no_gpu_estimate():
    p = plan(load_manifest("submissions/demo/strong.yaml"), get_protocol("demo"))
    assert p.estimate["basis"] is None and "tiny" in p.estimate["note"]


def test_dry_run_prints_the_gpu_hours_of_every_rung():
    for path in LADDER:
        out = CliRunner().invoke(app, ["run", str(path), "--dry-run"])
        assert out.exit_code == 0, out.output
        total = re.search(r"total: ([0-9.]+) GPU-hours, \$([0-9.,]+) at \$2\.50/GPU-hour", out.output)
        assert total and float(total[1]) > 0, out.output
        assert "roofline" in out.output and "token limit" in out.output


def test_dry_run_refuses_an_unknown_gpu_with_a_suggestion():
    out = CliRunner().invoke(app, ["run", str(LADDER[0]), "--dry-run", "--gpu", "H10O-80GB"])
    assert out.exit_code == 2 and "H100-80GB" in out.output


def _bench(script: str, args: list[str], out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, str(REPO / "bench" / script), *args, "--out", str(out)], check=True,
                   capture_output=True, cwd=REPO, timeout=600)
    return json.loads((out / script.replace(".py", ".json")).read_text())


@pytest.fixture(scope="module")
def cpu_audit_bench(tmp_path_factory) -> Path:
    """A real (tiny, CPU) run of bench/audit_gpu.py: its JSON is what a GPU run writes, device aside."""
    out = tmp_path_factory.mktemp("bench")
    _bench("audit_gpu.py", ["--scale", "tiny", "--items", "4", "--k", "2", "--image-size", "64"], out)
    return out


def test_a_cpu_measurement_never_calibrates_the_estimate(cpu_audit_bench):
    with pytest.raises(EstimateError, match="not on a GPU"):
        load_slowdowns(cpu_audit_bench)
    out = CliRunner().invoke(app, ["run", str(LADDER[0]), "--dry-run", "--rates", str(cpu_audit_bench)])
    assert out.exit_code == 2 and "not on a GPU" in out.output


def test_a_gpu_measurement_scales_its_own_kind_of_work(cpu_audit_bench, tmp_path):
    res = json.loads((cpu_audit_bench / "audit_gpu.json").read_text())
    res["device"], res["environment"] = "cuda", {"cuda_available": True, "device_name": "NVIDIA H100 80GB HBM3"}
    (tmp_path / "audit_gpu.json").write_text(json.dumps(res))
    with pytest.raises(EstimateError, match="tiny"):
        load_slowdowns(tmp_path)
    res["scale"] = "full"  # the arithmetic below is the same for any measured model
    (tmp_path / "audit_gpu.json").write_text(json.dumps(res))
    slow, sources = load_slowdowns(tmp_path)
    assert set(slow) == {"judge"} and slow["judge"] > 1 and "H100" in sources[0]
    rung = LADDER[0]
    roof, cal = _estimate(rung), _estimate(rung, slowdowns=slow)
    assert cal["basis"] == "calibrated"
    # Only judging is recalibrated: the increase is the roofline's judging share times (slowdown - 1).
    judge_only = _estimate(rung, slowdowns={"judge": 2.0})["gpu_hours"] - roof["gpu_hours"]
    assert cal["gpu_hours"] - roof["gpu_hours"] == pytest.approx(judge_only * (slow["judge"] - 1))
    out = CliRunner().invoke(app, ["run", str(rung), "--dry-run", "--rates", str(tmp_path)])
    assert out.exit_code == 0 and "calibrated" in out.output and "judge x" in out.output


def test_rates_folder_without_bench_results_is_refused(tmp_path):
    out = CliRunner().invoke(app, ["run", str(LADDER[0]), "--dry-run", "--rates", str(tmp_path)])
    assert out.exit_code == 2 and "audit_gpu.json" in out.output


def test_a_task_that_declares_no_size_is_refused_by_the_dry_run_not_planned_as_empty(monkeypatch, tmp_path):
    from harness.tasks.mmmu import MMMU

    monkeypatch.setattr(MMMU, "size", None)
    with pytest.raises(ValueError, match="'mmmu' declares no size"):
        plan(load_manifest(LADDER[0]), get_protocol("production"))
    out = CliRunner().invoke(app, ["run", str(LADDER[0]), "--dry-run"])
    assert out.exit_code == 2 and "declares no size" in out.output


def test_an_endpoint_judges_bill_counts_every_judgment_at_its_token_prices():
    """Every judgment of the run (audit once, self-DPO per training seed and student) x the tokens of one request
    and one answer, at the manifest's per-million prices; a logprob judge answers in one token."""
    from harness.estimate import API_PIXELS_PER_TOKEN, CHARS_PER_TOKEN

    protocol = get_protocol("production")
    for name, answer in (("structured-judge", 32), ("logprob-judge", 1)):
        m = load_manifest(f"submissions/examples/{name}.yaml")
        p = plan(m, protocol)
        bill = p.estimate["api"]
        judgments = sum(t.audit_judgments + 2 * 3 * t.selfdpo_judgments for t in p.tasks)
        per_input = (448 // API_PIXELS_PER_TOKEN) ** 2 + 100 + len(m.rubric_template or protocol.rubric_template) \
            // CHARS_PER_TOKEN + 512
        assert bill["judgments"] == judgments == 3 * (3200 + 6 * 6144)
        assert (bill["input_tokens_per_judgment"], bill["output_tokens_per_judgment"]) == (per_input, answer)
        assert bill["usd"] == pytest.approx(judgments * (per_input * 0.40 + answer * 1.60) / 1e6)
    assert plan(load_manifest("submissions/ladder/qwen2.5-vl-7b.yaml"), protocol).estimate["api"] is None
