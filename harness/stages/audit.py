"""Stage 1, the rubric audit: how often does the verifier's verdict agree with the task's
exact-match scorer on candidates the frozen students actually produce?

For each student of the protocol: its K sampled candidates on the task's audit items (cached,
identical for every verifier) are judged by the verifier through the rubric prompt; each score
is parsed (:mod:`harness.stages.verdict`), compared with the truth, and the audit metrics are
computed (:mod:`harness.audit_metrics`). The gate compares each student's rubric accuracy with
that student's frozen baseline accuracy (greedy, test split): below it, the paper's rule says
not to run the self-DPO loop.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from rich.progress import Progress

from harness import cancel
from harness.artifacts import cache_key, write_jsonl
from harness.audit_metrics import AuditMetrics, Judged, audit_metrics
from harness.config import ProtocolConfig
from harness.cost import Usage, price
from harness.documents import AuditResult, GateVerdict, StudentAudit, VerifierInfo
from harness.errors import MissingInput
from harness.metrics import Proportion
from harness.models.generate import student_generation
from harness.packs import AuditPack
from harness.provenance import Provenance, git_commit, hardware, package_versions
from harness.settings import Settings
from harness.stages.candidates import candidates_path, load_or_sample
from harness.stages.common import LazyStudent, baseline_path, protocol_splits, student_ident, submission_rubric
from harness.stages.evaluate import load_or_evaluate
from harness.stages.from_pack import Prepared, pack_items, prepared_from_pack
from harness.stages.students import resolve_student
from harness.stages.verdict import parse_verdict
from harness.submission import Manifest
from harness.tasks import Item, Task, get_task
from harness.verifiers import JudgeRequest, RawJudgment, VerifierBackend, make_backend

logger = logging.getLogger(__name__)



def prepare_student(student, protocol: ProtocolConfig, task: Task, audit: list[Item], test: list[Item],
                    settings: Settings, progress: Progress | None) -> Prepared:
    """A student's description, cached (or freshly made) audit candidates and frozen test baseline."""
    ref = resolve_student(student, settings.data_dir, protocol.split_seed)
    ident = student_ident(student.name, ref, settings)
    loader = LazyStudent(ref)
    cands = load_or_sample(settings.cached(candidates_path(settings.artifacts, ident, task.name, "audit",
                                                           protocol.digest())), loader, task, audit, protocol.audit,
                           progress, protocol.decoding)
    baseline = load_or_evaluate(baseline_path(settings, ident, task.name, protocol), loader, task, test,
                                protocol.eval_config(), progress)
    return ref.describe(), cands, baseline


def judge_all(backend: VerifierBackend, requests: list[JudgeRequest], chunk: int,
              progress: Progress | None) -> list[RawJudgment]:
    bar = progress.add_task("judging", total=len(requests)) if progress else None
    out: list[RawJudgment] = []
    for start in range(0, len(requests), chunk):
        cancel.check()
        part = requests[start:start + chunk]
        got = backend.judge(part)
        if len(got) != len(part):
            raise RuntimeError(f"backend {backend.name} returned {len(got)} judgments for {len(part)} requests")
        out.extend(got)
        if progress is not None:
            progress.advance(bar, len(part))
    return out


def _gate(student: str, metrics: AuditMetrics, baseline: Proportion) -> GateVerdict:
    ra = metrics.rubric_accuracy
    return GateVerdict(student=student, baseline=baseline, rubric_accuracy=ra,
                       verdict="above" if ra.value >= baseline.value else "below",
                       decisive=not (ra.ci_low <= baseline.value <= ra.ci_high))


def run_audit(manifest: Manifest, protocol: ProtocolConfig, task_name: str, settings: Settings,
              data_path: Path | None = None, progress: Progress | None = None,
              backend: VerifierBackend | None = None, pack: AuditPack | None = None) -> AuditResult:
    """Audit one verifier on one task for both students of the protocol: build the judge requests from each
    student's candidates, judge them all, score the verdicts against the exact-match truth.

    With ``pack`` (``protocol`` must name it, see :func:`harness.stages.pack.with_pack`) the candidates and
    baselines come from the pack and no student is loaded."""
    t0 = time.perf_counter()
    task = get_task(task_name)
    audit_items, prepared = _candidates(protocol, task, settings, data_path, progress, pack)
    with submission_rubric(manifest, protocol) as render:
        render(audit_items[0].prompt, "A")  # a template that cannot render fails here, before any judging
        by_id = {it.id: it for it in audit_items}
        requests = judge_requests(prepared, by_id, render)
    raws, usage = _judge(manifest, backend, requests, progress)
    verdict_rows, per_student, all_items = score_judgments(prepared, raws, protocol)
    for row, req in zip(verdict_rows, requests, strict=True):  # what a reader of the samples needs beside the verdict
        item = by_id[row["item_id"]]
        row.update(question=item.question, gold=item.answer, prompt=req.prompt)
    gate = [_gate(sa.student, sa.metrics, prepared[sa.student][2].accuracy) for sa in per_student]

    manifest_digest = manifest.digest()
    config_digest = cache_key(m=manifest_digest, p=protocol.digest())
    verdicts_path = settings.artifacts / "verdicts" / f"{task.name}-{config_digest}.jsonl"
    write_jsonl(verdicts_path, verdict_rows)
    logger.info("audit of %s on %s took %.1f s", manifest.name, task.name, time.perf_counter() - t0)
    return AuditResult(
        task=task.name,
        verifier=VerifierInfo(name=manifest.name, family=manifest.family, release=manifest.release,
                              backend=manifest.backend, simulated=manifest.is_simulated,
                              parameters=manifest.parameters, manifest_digest=manifest_digest),
        metrics=audit_metrics(all_items, protocol.selfdpo.tau, protocol.audit.threshold),
        students=per_student, gate=gate, cost=price(usage, manifest.cost),
        provenance=_provenance(manifest, protocol, task, per_student, config_digest),
        verdicts_path=str(verdicts_path),
    )


def _candidates(protocol: ProtocolConfig, task: Task, settings: Settings, data_path: Path | None,
                progress: Progress | None, pack: AuditPack | None) -> tuple[list[Item], dict[str, Prepared]]:
    """The audit items and each student's prepared candidates: from the pack, or from the students (sampled once
    and cached). A pack with embedded images needs no dataset: its items stand in when the dataset is not here."""
    if pack is None:
        splits = protocol_splits(task, task.items(path=data_path), protocol)
        return splits["audit"], {s.name: prepare_student(s, protocol, task, splits["audit"], splits["test"],
                                                         settings, progress) for s in protocol.students}
    if protocol.audit.pack is None or protocol.audit.pack.digest != pack.digest:
        raise ValueError("run_audit(pack=...) needs the protocol that names the pack (harness.stages.pack.with_pack)")
    try:
        audit = protocol_splits(task, task.items(path=data_path), protocol)["audit"]
    except MissingInput:
        if not pack.info.embedded_images:
            raise
        audit = None
    items = pack_items(pack, task, audit, protocol.item_limit)
    return items, prepared_from_pack(pack, protocol, task, items)


def judge_requests(prepared: dict[str, tuple], by_id: dict[str, Item], render) -> list[JudgeRequest]:
    """One request per (student, audit item, candidate), in that order: the rubric rendered for the candidate."""
    return [JudgeRequest(item_id=c.item_id, candidate_index=c.index, student=sname, images=by_id[c.item_id].images,
                         prompt=render(by_id[c.item_id].prompt, c.response), question=by_id[c.item_id].prompt,
                         candidate=c.response, truth=c.truth)
            for sname, (_, cands_by_item, _) in prepared.items() for row in cands_by_item for c in row]


def _judge(manifest: Manifest, backend: VerifierBackend | None, requests: list[JudgeRequest],
           progress: Progress | None) -> tuple[list[RawJudgment], Usage]:
    """Every request through the manifest's backend (made here and closed after, unless one is passed in)."""
    own_backend = backend is None
    backend = backend or make_backend(manifest)
    try:
        chunk = max(manifest.generation.batch_size, manifest.endpoint.concurrency if manifest.endpoint else 0)
        j0 = time.perf_counter()
        raws = judge_all(backend, requests, chunk, progress)
        usage = Usage(judgments=len(raws), wall_seconds=round(time.perf_counter() - j0, 3),
                      device_seconds=round(getattr(backend, "device_seconds", 0.0), 3),
                      device=getattr(backend, "device", "remote" if type(backend).remote else "none"),
                      input_tokens=sum(r.input_tokens for r in raws), output_tokens=sum(r.output_tokens for r in raws))
    finally:
        if own_backend:
            backend.close()
    return raws, usage


def score_judgments(prepared: dict[str, tuple], raws: list[RawJudgment], protocol: ProtocolConfig
                    ) -> tuple[list[dict], list[StudentAudit], list[list[Judged]]]:
    """Parse each verdict and compare it with the truth: the per-judgment rows, each student's metrics, and every
    item's judgments (for the pooled metrics). ``raws`` are in :func:`judge_requests`' order."""
    threshold = protocol.audit.threshold
    verdict_rows, per_student, all_items = [], [], []
    it_raw = iter(raws)
    for sname, (model, cands_by_item, _) in prepared.items():
        judged_items: list[list[Judged]] = []
        for row in cands_by_item:
            judged: list[Judged] = []
            for c in row:
                raw = next(it_raw)
                v = parse_verdict(raw.text) if raw.text is not None else None
                score = v.score if v else None
                judged.append((score, c.truth))
                verdict_rows.append({
                    "student": sname, "item_id": c.item_id, "candidate": c.index, "response": c.response,
                    "parsed": c.parsed, "truth": c.truth, "raw": raw.text, "backend_error": raw.error,
                    "score": score, "parse_error": v.error if v else None,
                    "verdict": None if score is None else score >= threshold,
                    "agrees": score is not None and (score >= threshold) == c.truth,
                    "input_tokens": raw.input_tokens, "output_tokens": raw.output_tokens, "simulated": raw.simulated,
                })
            judged_items.append(judged)
        all_items.extend(judged_items)
        per_student.append(StudentAudit(student=sname, model={"name": sname, **model},
                                        metrics=audit_metrics(judged_items, protocol.selfdpo.tau, threshold)))
    return verdict_rows, per_student, all_items


def _provenance(manifest: Manifest, protocol: ProtocolConfig, task: Task, per_student: list[StudentAudit],
                config_digest: str) -> Provenance:
    return Provenance(
        protocol_version=protocol.version, protocol_profile=protocol.profile, protocol_digest=protocol.digest(),
        git_commit=git_commit(), packages=package_versions(),
        models={"verifier": manifest.model.describe() if manifest.model else
                (manifest.endpoint.model_dump() if manifest.endpoint else {"simulated": True}),
                **{sa.student: sa.model for sa in per_student}},
        datasets={task.name: task.identity(),
                  **({"audit_pack": protocol.audit.pack.model_dump()} if protocol.audit.pack else {})},
        seeds={"split": protocol.split_seed, "candidates": protocol.audit.seed,
               **({"simulated": manifest.simulated.seed} if manifest.simulated else {})},
        hardware=hardware(), config_digest=config_digest, item_limit=protocol.item_limit,
        generation={sa.student: student_generation(sa.model, protocol) for sa in per_student},
    )
