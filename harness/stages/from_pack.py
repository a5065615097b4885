"""Auditing from an audit pack (:mod:`harness.packs`): the audit items and each student's candidates and baseline
as :func:`harness.stages.audit.run_audit` uses them, read from the pack; no student is loaded."""

from __future__ import annotations

from harness.config import ProtocolConfig
from harness.documents import EvalResult
from harness.metrics import proportion
from harness.packs import AuditPack, PackError
from harness.stages.candidates import Candidate
from harness.tasks import Item, Task

#: A student's description (where it came from), its candidates per audit item, and its frozen baseline.
Prepared = tuple[dict, list[list[Candidate]], EvalResult]


def pack_items(pack: AuditPack, task: Task, audit: list[Item] | None, limit: int | None = None) -> list[Item]:
    """The audit items in the pack's order (its first ``limit``, as the protocol's item limit cuts the audit split):
    the task's own (checked against the pack's identities), or, from a pack with embedded images and no dataset at
    hand, rebuilt from the pack."""
    rows = pack.rows("items", task.name)[:limit]
    if audit is None:
        images = pack.images(task.name)
        return [Item(task=task.name, id=r["item_id"], images=images[r["item_id"]], question=r["question"],
                     answer=r["answer"], answer_type="text", prompt=r["prompt"]) for r in rows]
    by_id = {it.id: it for it in audit}
    missing = [r["item_id"] for r in rows if r["item_id"] not in by_id]
    if missing or len(rows) != len(audit):
        raise PackError(f"pack {pack.info.name}'s {task.name} audit items differ from this dataset's audit split "
                        f"({len(rows)} in the pack, {len(audit)} here, e.g. {missing[:3]} not here): another "
                        "dataset revision or split")
    return [by_id[r["item_id"]] for r in rows]


def prepared_from_pack(pack: AuditPack, protocol: ProtocolConfig, task: Task, items: list[Item]
                       ) -> dict[str, Prepared]:
    """Each student's candidates (per audit item, in ``items``' order) and baseline, read from the pack."""
    cands: dict[str, dict[str, list[Candidate]]] = {s: {} for s in pack.info.students}
    for r in pack.rows("candidates", task.name):
        cands[r["student"]].setdefault(r["item_id"], []).append(
            Candidate(item_id=r["item_id"], index=r["candidate"], response=r["response"], truth=r["truth"],
                      parsed=r["parsed"]))
    base = {r["student"]: r for r in pack.rows("baselines", task.name)}
    out = {}
    for s in protocol.students:
        by_item = cands[s.name]
        rows = [sorted(by_item.get(it.id, []), key=lambda c: c.index) for it in items]
        if any(len(row) != protocol.audit.k for row in rows):
            raise PackError(f"pack {pack.info.name}: {s.name} lacks candidates for some {task.name} audit items")
        baseline = EvalResult(predictions=[], accuracy=proportion(base[s.name]["k"], base[s.name]["n"]))
        out[s.name] = (pack.info.students[s.name], rows, baseline)
    return out
