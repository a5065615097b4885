"""GPU-hours a protocol run will take, before it runs (``ladder run --dry-run``).

Every unit of GPU work in the protocol is one of four kinds: a frozen or training student
sampling candidates (``sample``), a student answering greedily (``eval``), the verifier judging
candidates (``judge``) and a DPO step (``train``). Each is costed as a roofline: a generation
call takes, per decoding step, the larger of its FLOPs at the GPU's datasheet peak and its bytes
(weights + KV cache) at the GPU's memory bandwidth, after a compute-bound prefill; a LoRA DPO
step takes 6 FLOPs per parameter per token (policy forward, backward to the activations,
reference forward). That is the least time the hardware allows. Self-DPO and the post-DPO evaluation
run once per training seed (``protocol.selfdpo.seeds``, 3 in production), so their work is counted that
many times; the audit and the frozen students' baselines once.

Uncalibrated, the estimate is therefore a floor in efficiency while its lengths are ceilings
(every answer runs to its token limit unless ``answer_tokens`` says otherwise): the two errors pull
in opposite directions, and the output says which basis it used. Calibrated, each kind's roofline
is multiplied by that kind's *slowdown* measured by the GPU benchmarks (``bench/audit_gpu.py``,
``bench/selfdpo_gpu.py``: the harness's own code on a GPU, seconds measured / roofline of the same
work). Benchmarks measured on a CPU are refused.

Pure: no torch, no model, no file I/O except :func:`load_slowdowns`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from harness.config import SAMPLE_BATCH_PROMPTS
from harness.documents import TaskPlan
from harness.hardware import DEFAULT_GPU, GPU, GPUS, Architecture, architecture, square_image_tokens
from harness.submission import backend_class

KINDS = ("sample", "eval", "judge", "train")
QUESTION_TOKENS = 100   # question, options and chat template of one item, text only (assumed)
IMAGE_SIDE_PX = 448     # one square image per item of this side (assumed; the benchmarks' own vary)
CHARS_PER_TOKEN = 4     # rubric template length in tokens ~ characters / 4
#: An endpoint judge's visual tokens per image are its model's own; assumed: 28 px per token, as Qwen2.5-VL counts
#: (a 448 px image is 256 tokens; OpenAI's tile rule gives 255 for it at high detail).
API_PIXELS_PER_TOKEN = 28


class EstimateError(ValueError):
    """A benchmark file that cannot calibrate the estimate."""


# --------------------------------------------------------------------------- roofline


def generate_seconds(arch: Architecture, gpu: GPU, sequences: int, batch: int, prompt: int, new: int) -> float:
    """Least time to decode ``sequences`` sequences, ``batch`` at a time, each ``prompt`` tokens
    in and ``new`` tokens out (prefill compute-bound; each decoding step bound by compute or by
    reading the weights and the batch's KV cache, whichever is slower)."""
    full, rest = divmod(sequences, batch)
    return full * _call_seconds(arch, gpu, batch, prompt, new) + (
        _call_seconds(arch, gpu, rest, prompt, new) if rest else 0.0)


def _call_seconds(arch: Architecture, gpu: GPU, b: int, prompt: int, new: int) -> float:
    """One generation call of ``b`` sequences."""
    weight_bytes, kv = 2 * arch.parameters, arch.kv_bytes_per_token()
    step_compute = 2 * arch.parameters * b / gpu.flops
    decode = sum(max(step_compute, (weight_bytes + b * kv * (prompt + t)) / gpu.bytes_per_s) for t in range(new))
    return 2 * arch.parameters * b * prompt / gpu.flops + decode


def train_seconds(arch: Architecture, gpu: GPU, steps: int, pairs_per_step: int, tokens: int) -> float:
    """Least time for ``steps`` LoRA DPO steps of ``pairs_per_step`` pairs (chosen + rejected,
    ``tokens`` each): 6 FLOPs per parameter per token."""
    return steps * 6 * arch.parameters * 2 * pairs_per_step * tokens / gpu.flops


def dpo_steps(rounds: int, prompts_per_round: int, replay_ratio: float, batch_size: int, epochs: int = 1) -> int:
    """DPO steps of a self-DPO run if every prompt yields an admitted pair (the upper bound):
    each round trains on its new pairs plus ``replay_ratio`` as many replayed from earlier rounds."""
    steps, buffer = 0, 0
    for _ in range(rounds):
        replay = min(buffer, math.floor(replay_ratio * prompts_per_round))
        steps += epochs * math.ceil((prompts_per_round + replay) / batch_size)
        buffer += prompts_per_round
    return steps


# --------------------------------------------------------------------------- workload


@dataclass(frozen=True)
class Work:
    """One line of the estimate: ``kind`` work by ``model`` in ``stage``."""

    stage: str
    kind: str
    model: str
    seconds: float
    shared: bool = False  # cached per protocol: only the first submission pays it


@dataclass
class Assumptions:
    """What the estimate assumed; printed with it."""

    gpu: str | None = None  # None: the manifest's priced GPU if catalogued, else DEFAULT_GPU
    image_side_px: int = IMAGE_SIDE_PX
    question_tokens: int = QUESTION_TOKENS
    answer_tokens: int | None = None  # None: every answer at its limit
    slowdowns: dict[str, float] = field(default_factory=dict)  # kind -> measured / roofline
    calibrated_by: list[str] = field(default_factory=list)

    def length(self, limit: int) -> int:
        return limit if self.answer_tokens is None else min(limit, self.answer_tokens)


def student_work(arch: Architecture, gpu: GPU, protocol, plan_task: TaskPlan, a: Assumptions) -> list[Work]:
    """One student's work on one task: audit candidates and baseline (shared, once), and per training seed
    (``protocol.selfdpo.seeds`` full runs from the frozen student) self-DPO sampling, training and probes, and the
    evaluation after training."""
    prompt = arch.image_tokens(a.image_side_px) + a.question_tokens
    cfg, audit = protocol.selfdpo, protocol.audit
    seeds = cfg.seeds
    sample_len, eval_len = a.length(cfg.max_new_tokens), a.length(protocol.eval_max_new_tokens)
    eval_batch = 16  # harness.stages.evaluate.EvalConfig.batch_size
    test = plan_task.test_items
    steps = dpo_steps(cfg.rounds, plan_task.selfdpo_prompts, cfg.replay_ratio, cfg.batch_size, cfg.epochs)
    return [
        Work("audit", "sample", arch.hub_id, generate_seconds(
            arch, gpu, plan_task.audit_items * audit.k, audit.batch_size * audit.k, prompt,
            a.length(audit.max_new_tokens)), shared=True),
        Work("baseline", "eval", arch.hub_id, generate_seconds(arch, gpu, test, eval_batch, prompt, eval_len),
             shared=True),
        Work("selfdpo", "sample", arch.hub_id, seeds * generate_seconds(
            arch, gpu, cfg.rounds * plan_task.selfdpo_prompts * cfg.k, SAMPLE_BATCH_PROMPTS * cfg.k, prompt,
            sample_len)),
        Work("selfdpo", "train", arch.hub_id,
             seeds * train_seconds(arch, gpu, steps, cfg.batch_size, prompt + sample_len)),
        Work("selfdpo", "eval", arch.hub_id, seeds * generate_seconds(
            arch, gpu, cfg.rounds * cfg.probe_size, eval_batch, prompt, eval_len)),
        Work("evaluate", "eval", arch.hub_id,
             seeds * generate_seconds(arch, gpu, test, eval_batch, prompt, eval_len)),
    ]


def judgment_tokens(manifest, protocol, a: Assumptions, image_tokens: int) -> tuple[int, int]:
    """(request, answer) tokens of one judgment: the image, the question, the rubric (none for a reward model, which
    reads the question and the candidate in its own chat format) and the candidate at its limit; the answer at its
    limit, one token for a log-probability judge (its first token's alternatives are the score), none for a reward
    model (one forward pass per candidate: the prefill alone)."""
    mode = manifest.judging_mode
    template = "" if mode == "reward" else manifest.rubric_template or protocol.rubric_template
    candidate = a.length(max(protocol.audit.max_new_tokens, protocol.selfdpo.max_new_tokens))
    request = image_tokens + a.question_tokens + len(template) // CHARS_PER_TOKEN + candidate
    return request, {"logprob": 1, "reward": 0}.get(mode, a.length(manifest.generation.max_new_tokens))


def judge_work(arch: Architecture, gpu: GPU, manifest, protocol, plan_task: TaskPlan, a: Assumptions) -> list[Work]:
    """The verifier's judgments of one student's candidates on one task: the audit's once, self-DPO's per
    training seed."""
    prompt, answer = judgment_tokens(manifest, protocol, a, arch.image_tokens(a.image_side_px))
    gen = manifest.generation
    per_student = plan_task.audit_judgments // max(1, plan_task.students)

    def judge(stage: str, n: int) -> Work:
        return Work(stage, "judge", arch.hub_id, generate_seconds(arch, gpu, n, gen.batch_size, prompt, answer))

    return [judge("audit", per_student),
            judge("selfdpo", protocol.selfdpo.seeds * plan_task.selfdpo_judgments)]


# --------------------------------------------------------------------------- estimate


def estimate(manifest, protocol, plan_tasks: list[TaskPlan], a: Assumptions) -> dict:
    """GPU-hours per task and stage for ``manifest`` under ``protocol``, as a JSON-ready dict.

    ``plan_tasks`` counts one training run (``selfdpo_judgments`` per student and seed); the protocol runs
    ``protocol.selfdpo.seeds`` of them per student, so self-DPO (sampling, judging, DPO steps, probes) and the
    post-DPO evaluation are costed that many times; the audit and the frozen baseline once. ``training_seeds`` and
    ``workload`` (per task and student, over all seeds) say so in the result."""
    seeds = protocol.selfdpo.seeds
    common = {"training_seeds": seeds,
              "workload": {pt.task: {"selfdpo_judgments": seeds * pt.selfdpo_judgments,
                                        "post_eval_items": seeds * pt.test_items} for pt in plan_tasks}}
    priced_gpu = manifest.cost.gpu_type if manifest.cost.gpu_type in GPUS else DEFAULT_GPU
    gpu = GPUS.get(a.gpu or priced_gpu)
    students = [architecture(s.model.hub_id, revision=s.model.revision) if s.model else None
                for s in protocol.students]
    missing = [s.name for s, arch in zip(protocol.students, students, strict=True) if arch is None]
    if missing:
        return {"gpu": gpu.name, "basis": None,
                "note": f"no GPU estimate: students {missing} are not hub models with a catalogued architecture "
                        "(harness/hardware.py); tiny students run on a CPU in minutes", **common}
    common["api"] = api_bill(manifest, protocol, plan_tasks, a)
    judge_arch = None
    if backend_class(manifest.backend).uses_device and manifest.model is not None:
        judge_arch = architecture(manifest.model.hub_id, manifest.parameters, revision=manifest.model.revision)
    tasks = {}
    for pt in plan_tasks:
        works = [w for arch in students for w in student_work(arch, gpu, protocol, pt, a)]
        if judge_arch is not None:
            works += [w for _ in students for w in judge_work(judge_arch, gpu, manifest, protocol, pt, a)]
        tasks[pt.task] = _summarise(works, a.slowdowns)
    total = sum(t["gpu_hours"] for t in tasks.values())
    by_kind = {k: sum(t["by_kind"].get(k, 0.0) for t in tasks.values()) for k in KINDS}
    marginal = sum(t["gpu_hours_not_shared"] for t in tasks.values())
    priced = manifest.cost.kind == "gpu" and manifest.cost.gpu_type == gpu.name  # its price is for its own GPU
    price = manifest.cost.usd_per_gpu_hour if priced else None
    return {
        "gpu": gpu.name, "gpu_source": gpu.source,
        "basis": "calibrated" if a.slowdowns else "roofline", **common,
        "tasks": tasks, "gpu_hours": total, "gpu_hours_not_shared": marginal, "by_kind": by_kind,
        "usd": total * price if price is not None else None, "usd_per_gpu_hour": price,
        "judging": _judging_note(manifest, judge_arch),
        "geometry": _geometry([*students, judge_arch]),
        "assumptions": {"image_side_px": a.image_side_px, "question_tokens": a.question_tokens,
                        "answer_tokens": a.answer_tokens or "each answer at its token limit",
                        "slowdowns": a.slowdowns, "calibrated_by": a.calibrated_by},
    }


def api_bill(manifest, protocol, plan_tasks: list[TaskPlan], a: Assumptions) -> dict | None:
    """An endpoint judge's token bill at its manifest's per-token prices (``cost.kind: api``; None otherwise):
    every judgment of the run (the audit's, and self-DPO's for every training seed) x the tokens of one request
    and one answer (:func:`judgment_tokens`, the image at :data:`API_PIXELS_PER_TOKEN`). Like the GPU-hours, a
    ceiling in lengths: real answers are shorter."""
    cost = manifest.cost
    if cost.kind != "api" or cost.usd_per_1m_input_tokens is None or cost.usd_per_1m_output_tokens is None:
        return None
    per_input, per_output = judgment_tokens(manifest, protocol, a,
                                            square_image_tokens(a.image_side_px, API_PIXELS_PER_TOKEN))
    judgments = sum(pt.audit_judgments + pt.students * protocol.selfdpo.seeds * pt.selfdpo_judgments
                    for pt in plan_tasks)
    usd = judgments * (per_input * cost.usd_per_1m_input_tokens + per_output * cost.usd_per_1m_output_tokens) / 1e6
    return {"judgments": judgments, "input_tokens_per_judgment": per_input,
            "output_tokens_per_judgment": per_output, "usd": usd}


def _summarise(works: list[Work], slowdowns: dict[str, float]) -> dict:
    by_stage: dict[str, float] = {}
    by_kind: dict[str, float] = {}
    hours = shared = 0.0
    for w in works:
        h = w.seconds * slowdowns.get(w.kind, 1.0) / 3600
        by_stage[w.stage] = by_stage.get(w.stage, 0.0) + h
        by_kind[w.kind] = by_kind.get(w.kind, 0.0) + h
        hours += h
        shared += h if w.shared else 0.0
    return {"gpu_hours": hours, "gpu_hours_not_shared": hours - shared, "by_stage": by_stage, "by_kind": by_kind}


def _geometry(archs: list[Architecture | None]) -> dict[str, dict]:
    """Each costed model's geometry and where it was read (its config.json, else the catalogue)."""
    return {a.hub_id: {"parameters": a.parameters, "layers": a.layers, "kv_heads": a.kv_heads,
                       "head_dim": a.head_dim, "pixels_per_token": a.pixels_per_token, "source": a.source}
            for a in archs if a is not None}


def _judging_note(manifest, judge_arch: Architecture | None) -> str:
    if judge_arch is not None:
        kv = "" if judge_arch.layers else " (architecture not catalogued: KV cache not counted)"
        how = {"reward": "; a reward model: one forward pass per candidate, no decoding",
               "logprob": "; log-probability judging: one decoded token per judgment"}.get(manifest.judging_mode, "")
        return f"on the worker's GPU: {judge_arch.hub_id}, {judge_arch.parameters / 1e9:.2f} B parameters{kv}{how}"
    backend = backend_class(manifest.backend)
    if backend.uses_device:
        return "on the worker's GPU, not estimated: the manifest gives no parameter count"
    if backend.remote:
        return "by the endpoint: billed per token by its owner, not in these GPU-hours"
    return f"{manifest.backend}: no model"


# --------------------------------------------------------------------------- calibration


def load_slowdowns(folder: Path) -> tuple[dict[str, float], list[str]]:
    """Measured / roofline per kind from the GPU benchmarks' JSON in ``folder``
    (``audit_gpu.json`` -> judge; ``selfdpo_gpu.json`` -> sample, train, eval)."""
    slowdowns: dict[str, float] = {}
    sources: list[str] = []
    for name, fn in (("audit_gpu.json", _audit_slowdowns), ("selfdpo_gpu.json", _selfdpo_slowdowns)):
        path = folder / name
        if not path.is_file():
            continue
        try:
            res = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise EstimateError(f"{path}: not valid JSON ({err})") from None
        slowdowns |= fn(res, path)
        sources.append(f"{path} ({res.get('environment', {}).get('device_name', '?')})")
    if not sources:
        raise EstimateError(f"{folder}: neither audit_gpu.json nor selfdpo_gpu.json is there "
                            "(run bench/audit_gpu.py and bench/selfdpo_gpu.py on a GPU with --out to this folder)")
    return slowdowns, sources


def gpu_of_device(name: str) -> GPU | None:
    """The catalogued GPU that ``torch.cuda.get_device_name()`` names, if any."""
    n = name.upper()
    for key, gpu in (("H100 PCIE", "H100-PCIe"), ("H100", "H100-80GB"), ("H200", "H200"), ("B200", "B200"),
                     ("L40S", "L40S"), ("A100-SXM4-40GB", "A100-40GB"), ("A100", "A100-80GB")):
        if key in n:
            return GPUS.get(gpu)
    return None


def _bench_gpu(res: dict, path: Path) -> tuple[GPU, Architecture]:
    env = res.get("environment") or {}
    if res.get("device") != "cuda" or not env.get("cuda_available"):
        raise EstimateError(f"{path}: measured on {res.get('device')!r} ({env.get('device_name', '?')}), not on a "
                            "GPU; only GPU measurements calibrate the estimate")
    if res.get("scale") != "full":
        raise EstimateError(f"{path}: measured with scale {res.get('scale')!r}; only the full-size models "
                            "(--scale full, the default) calibrate the estimate: a tiny model measures overheads")
    gpu = gpu_of_device(env.get("device_name", ""))
    if gpu is None:
        raise EstimateError(f"{path}: GPU {env.get('device_name')!r} has no datasheet entry in harness/hardware.py")
    arch = res.get("architecture")
    if not isinstance(arch, dict):
        raise EstimateError(f"{path}: no 'architecture' entry (written by the benchmarks since 2026-11-26)")
    return gpu, Architecture("bench", **arch)


def _ratio(measured: float | None, roofline: float, what: str, path: Path) -> dict[str, float]:
    if not measured or not roofline or not math.isfinite(measured):
        raise EstimateError(f"{path}: no steady {what} time measured")
    return {what: measured / roofline}


def _audit_slowdowns(res: dict, path: Path) -> dict[str, float]:
    gpu, arch = _bench_gpu(res, path)
    rate = res.get("steady_judgments_per_s") or res.get("judgments_per_s")
    n, batch = 64 * res["batch_size"], res["batch_size"]
    roof = generate_seconds(arch, gpu, n, batch, round(res["mean_input_tokens"]), round(res["mean_output_tokens"]))
    return _ratio(1 / rate if rate else None, roof / n, "judge", path)


def _selfdpo_slowdowns(res: dict, path: Path) -> dict[str, float]:
    gpu, arch = _bench_gpu(res, path)
    prompt, k = round(res["mean_prompt_tokens"]), res["k"]
    n = 64 * SAMPLE_BATCH_PROMPTS * k
    sample = generate_seconds(arch, gpu, n, SAMPLE_BATCH_PROMPTS * k, prompt, res["sample_new_tokens"]) / n
    n = 64 * res["eval_batch_size"]
    ev = generate_seconds(arch, gpu, n, res["eval_batch_size"], prompt, res["eval_new_tokens"]) / n
    step = train_seconds(arch, gpu, 1, res["dpo_batch_size"], prompt + round(res["dpo_mean_completion_tokens"]))
    return (_ratio(res.get("sample_steady_s_per_candidate"), sample, "sample", path)
            | _ratio(res.get("eval_steady_s_per_item"), ev, "eval", path)
            | _ratio(res.get("dpo_steady_s_per_step"), step, "train", path))
