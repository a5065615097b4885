"""How results are printed: audit, run and plan tables, the findings, release comparisons (no commands here)."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from harness.cli.common import console
from harness.documents import Plan


def print_audit(result) -> None:
    m = result.metrics
    v = result.verifier
    badge = " [simulated]" if v.simulated else ""
    if result.provenance.item_limit is not None:
        badge += f" [partial: first {result.provenance.item_limit} items]"
    table = Table(title=escape(f"Rubric audit: {v.name} {v.release}{badge} on {result.task}"))
    table.add_column("metric")
    table.add_column("value")

    def ci(p):
        return f"{p.value:.3f} [{p.ci_low:.3f}, {p.ci_high:.3f}] (n={p.n})"

    def num(x):
        return "n/a" if x is None else f"{x:.3f}"

    rows = [
        ("rubric accuracy", ci(m.rubric_accuracy)), ("agreement, all candidates", ci(m.agreement_all)),
        ("balanced accuracy", num(m.balanced_accuracy)), ("TPR", ci(m.tpr)), ("TNR", ci(m.tnr)),
        ("AUROC", num(m.auroc)), ("ECE", num(m.ece)), ("parse failures", ci(m.parse_failures)),
        ("pair direction accuracy", ci(m.pairs_all.direction)),
        (f"gated pair direction (margin >= {m.gate_tau})", ci(m.pairs_gated.direction)),
        ("margin-weighted direction", num(m.pairs_gated.margin_weighted)),
        ("cost", cost_line(result.cost)),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    for g in result.gate:
        style = "green" if g.verdict == "above" else "red"
        console.print(f"[{style}]{escape(g.sentence())}[/{style}]")
    console.print(f"per-judgment verdicts: {escape(result.verdicts_path)}")


def plan_text(p: Plan) -> str:
    lines = [f"plan for {p.verifier} under protocol {p.protocol} ({p.profile}):"]
    seeds = p.estimate.get("training_seeds", 1)
    for t in p.tasks:
        lines.append(f"  {t.task}: audit {t.audit_items} items x {t.k} candidates x {t.students} "
                     f"students = {t.audit_judgments} judgments; self-DPO {t.selfdpo_rounds} rounds x "
                     f"{t.selfdpo_prompts} prompts x {t.k_train} = {t.selfdpo_judgments} judgments per "
                     f"student and run, x {seeds} training seeds = {seeds * t.selfdpo_judgments} judgments per "
                     f"student; eval {t.test_items} test items per student before (once) and after each seed "
                     f"({seeds * t.test_items} answers)")
    return "\n".join(lines + estimate_lines(p.estimate))


KIND_NAMES = {"sample": "student sampling", "eval": "student answers", "judge": "judging", "train": "DPO steps"}


def estimate_lines(e: dict) -> list[str]:
    if e["basis"] is None:
        return [f"  GPU-hours: {e['note']}"]
    a = e["assumptions"]
    answers = (f"answers of {a['answer_tokens']} tokens" if isinstance(a["answer_tokens"], int)
               else "every answer at its token limit")
    if e["basis"] == "roofline":
        head = (f"  GPU-hours on {e['gpu']}, a roofline floor with {answers} ({e['gpu_source']} peaks: the "
                "hardware allows no less, real kernels are slower; --rates DIR calibrates it from the GPU benchmarks):")
    else:
        slow = ", ".join(f"{k} x{v:.1f}" for k, v in sorted(a["slowdowns"].items()))
        head = (f"  GPU-hours on {e['gpu']}, calibrated by measured slowdowns over the roofline ({slow}; "
                f"from {'; '.join(a['calibrated_by'])}) with {answers}:")
    lines = [head, f"    (self-DPO and the post-DPO evaluation x {e['training_seeds']} training seeds; the audit and "
                   "the frozen baseline once)"]
    for task, t in e["tasks"].items():
        stages = ", ".join(f"{s} {h:.2f}" for s, h in t["by_stage"].items())
        lines.append(f"    {task}: {t['gpu_hours']:.2f} ({stages}; {t['gpu_hours_not_shared']:.2f} without the "
                     "frozen students' cached candidates and baselines)")
    usd = f", ${e['usd']:,.2f} at ${e['usd_per_gpu_hour']:.2f}/GPU-hour" if e["usd"] is not None else ""
    kinds = ", ".join(f"{KIND_NAMES[k]} {h:.2f}" for k, h in e["by_kind"].items())
    lines.append(f"    total: {e['gpu_hours']:.2f} GPU-hours{usd} ({kinds}); verifier judging {e['judging']}")
    lines.append(f"    assumed: one {a['image_side_px']} px image and {a['question_tokens']} question tokens per item")
    for hub_id, g in e.get("geometry", {}).items():
        lines.append(f"    geometry of {hub_id}: {g['layers']} layers x {g['kv_heads']} key/value heads x "
                     f"{g['head_dim']}, {g['pixels_per_token']} px per visual token, from {g['source']}")
    bill = e.get("api")
    if bill is not None:
        lines.append(f"    the endpoint's bill at the manifest's prices: {bill['judgments']:,} judgments x about "
                     f"{bill['input_tokens_per_judgment']} input and {bill['output_tokens_per_judgment']} output "
                     f"tokens = ${bill['usd']:,.2f} (a ceiling: every answer at its token limit)")
    return lines


def print_run_table(results) -> None:
    """The per-task table: verifier, rubric accuracy, gate, each student's delta, silent regression, cost."""
    for task in sorted({t.task for r in results for t in r.tasks}):
        rows = [(r, t) for r in results for t in r.tasks if t.task == task]
        students = [s.student for s in rows[0][1].students]
        table = Table("verifier", "rubric acc [95% CI] (n)",
                      *[f"{s}: gate, seed-mean delta [95% CI, items x seeds] (n); per seed" for s in students],
                      "silent regression", "judgments", title=f"{task}: verifiers ranked by rubric accuracy" + (
                          f" [partial: first {rows[0][0].item_limit} items]" if rows[0][0].item_limit else ""))
        for _, t in sorted(rows, key=lambda rt: -rt[1].audit.metrics.rubric_accuracy.value):
            ra = t.audit.metrics.rubric_accuracy
            cells = []
            for s in t.students:
                gate = next(g.verdict for g in t.audit.gate if g.student == s.student)
                if s.delta is None:
                    cells.append(f"{gate}; failed: {escape(s.failure or '')}")
                else:
                    d = s.delta
                    per_seed = " ".join(f"{100 * x:+.1f}" for x in d.seed_deltas)
                    cells.append(f"{gate}; {d.before:.3f}->{d.after:.3f} {100 * d.delta:+.1f} pts "
                                 f"[{100 * d.ci_low:+.1f}, {100 * d.ci_high:+.1f}] (n={d.n} x {d.seeds}); "
                                 f"{per_seed}")
            silent = ", ".join(s.student for s in t.students if s.silent_regression) or "-"
            judgments = t.audit.cost.judgments + sum(run.selfdpo.judgments for s in t.students for run in s.seeds
                                                     if run.selfdpo)
            name = escape(t.audit.verifier.name) + (" [simulated]" if t.audit.verifier.simulated else "")
            table.add_row(name, f"{ra.value:.3f} [{ra.ci_low:.3f}, {ra.ci_high:.3f}] ({ra.n})", *cells, silent,
                          str(judgments))
        console.print(table)


def findings_json(results) -> dict:
    """``{task: [{name, holds, evidence}, ...]}``: whether the ladder reproduces the paper's findings."""
    from harness.findings import check_findings
    from harness.results import post_correctness

    posts = post_correctness(results)
    return {task: [f.model_dump() for f in check_findings(results, posts, task=task)]
            for task in sorted({t.task for r in results for t in r.tasks})}


def print_findings(results) -> None:
    """Whether the ladder reproduces the paper's findings, with the evidence for each."""
    for task, findings in findings_json(results).items():
        for f in findings:
            mark = "[green]holds[/green]" if f["holds"] else "[red]does not hold[/red]"
            console.print(f"{escape(task)}: {escape(f['name'])}: {mark}")
            for line in f["evidence"]:
                console.print(f"    {escape(line)}", highlight=False)


def cost_line(cost) -> str:
    usd = "n/a" if cost.usd is None else f"${cost.usd:.4f}"
    extra = f" ({cost.note})" if cost.note else ""
    return (f"{cost.judgments} judgments, {cost.wall_seconds:.1f} s wall, {cost.device_seconds:.1f} s on "
            f"{cost.device}, {cost.input_tokens}+{cost.output_tokens} tokens, {usd}{extra}")


def print_compare(result) -> None:
    table = Table("task", "rubric accuracy A -> B\n(leaderboard: 1st candidate, n)",
                  "all-K agreement B - A, points\n[95% CI] (items / judgments)",
                  "clustered McNemar p\none-sided, B lower (two-sided);\nHolm-adjusted",
                  "student: seed-mean post-DPO B - A,\npoints [95% CI over items x seeds];\none-sided p (B lower), "
                  "Holm-adjusted;\nn items x S_A/S_B seeds; accuracy per seed", "B worse",
                  title=f"{escape(result.a)} vs {escape(result.b)} (protocol {result.protocol_digest})")
    methods, seed_methods = set(), set()
    for t in result.tasks:
        holm_p = {(x.kind, x.name): x for x in t.tests}
        r = t.rubric
        if r:
            methods.add(r.method)
            rubric = f"{r.accuracy_a.value:.3f} -> {r.accuracy_b.value:.3f} ({r.accuracy_a.n} / {r.accuracy_b.n})"
            agreement = (f"{100 * r.difference:+.1f} [{100 * r.ci_low:+.1f}, {100 * r.ci_high:+.1f}] "
                         f"({r.shared_items} / {r.shared_judgments})")
            test = holm_p.get(("rubric", "rubric"))
            p = f"{r.test.p_less:.3g} ({r.test.p_value:.3g})" + (f";\nHolm {test.p_holm:.3g}" if test else "")
        else:
            rubric = agreement = p = "-"
        students = []
        for s, d in t.students.items():
            seeds = t.student_seeds.get(s)
            counts = f"{len(seeds.a)}/{len(seeds.b)}" if seeds else f"?/{d.seeds}"
            test = holm_p.get(("student", s))
            lines = [f"{escape(s)} {100 * d.delta:+.1f} [{100 * d.ci_low:+.1f}, {100 * d.ci_high:+.1f}]",
                     f"  p {d.p_below:.3g}" + (f", Holm {test.p_holm:.3g}" if test else "") + f" (df {d.df:.1f})",
                     f"  {d.n} items x {counts} seeds"]
            if seeds:
                lines += [f"  {side} " + " ".join(f"{x.accuracy:.3f}" for x in accs)
                          for side, accs in (("A", seeds.a), ("B", seeds.b))]
                if seeds.left_out[0] or seeds.left_out[1]:
                    lines.append(escape(f"  left out (partial rows): A {seeds.left_out[0]}, B {seeds.left_out[1]}"))
            students.append("\n".join(lines))
            seed_methods.add(d.method)
        table.add_row(escape(t.task), rubric, agreement, p, "\n".join(students) or "-",
                      escape("; ".join(t.reasons)) if t.b_worse else "no")
    caption = [f"Gate: Holm's step-down over all m = {result.m} tests (each task's rubric test and each student's "
               f"test), family-wise alpha = {result.alpha:g}; B is worse when Holm rejects a test (Holm-adjusted p "
               f"<= {result.alpha:g}) whose B - A is negative"]
    if methods:
        caption.append(f"rubric test: {'; '.join(sorted(methods))}")
    if seed_methods:
        caption.append("student test: B's seed-mean post-DPO accuracy minus A's on the shared test items, 95% CI by "
                       f"{'; '.join(sorted(seed_methods))} (item variance of the per-item seed-mean differences "
                       "plus each side's seed variance beyond item noise); one-sided p = P(T_df <= delta / se)")
    table.caption = escape("; ".join(caption) + ".")
    console.print(table)
    tests = Table("task", "test", "B - A, points", "one-sided p\n(B lower)", "Holm-adjusted p", "Holm rejects",
                  "B worse", title=f"The gate's {result.m} tests: Holm's step-down at family-wise alpha = "
                                   f"{result.alpha:g}")
    for t in result.tasks:
        for x in t.tests:
            name = f"student {x.name}" if x.kind == "student" else "rubric (all-K agreement)"
            tests.add_row(escape(t.task), escape(name), f"{100 * x.estimate:+.1f}", f"{x.p_value:.3g}",
                          f"{x.p_holm:.3g}", "yes" if x.rejected else "no", "yes" if x.b_worse else "no")
    console.print(tests)
