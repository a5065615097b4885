"""Calibration of `ladder compare`'s tests and of its whole gate on simulated data (CPU, no models, minutes).

Part 1, the rubric test alone (its own calibration, at alpha = 0.05 unadjusted; the release history's regression
flag is this one test). What it measures: how often the test says "B is significantly worse" (all-K agreement
lower with the ONE-sided, lower-tail clustered McNemar p < 0.05: ``harness.store.compare.rubric_comparison(...)
.b_worse(0.05)``, the code `ladder compare` runs per task) when B is exactly as good as A (false-alarm rate, A/A), and
when B's agreement is 2, 5 and 10 points lower (power). Side by side, in the same trials: the previous gate (B
lower with the TWO-sided clustered p < 0.05), Durkalski's large-sample variant of the one-sided gate (normal
limit of the same statistic), the OLD gate (exact McNemar over all judgments as if independent, B lower,
two-sided p < 0.05), and the coverage of the item-clustered bootstrap CI.

Audit size: the production protocol's, for ONE task: 200 audit items x 2 students x K = 8 candidates = 3200
judgments per release. This is one test of the gate's family (part 3 measures the whole gate).

Verifier model (realistic within-item correlation; harness/verifiers/simulated.py draws every judgment
independently, which real verifiers do not):

- each audit item i has a latent difficulty z_i ~ N(0, 1), shared by both students' candidates of that item (the
  same question and image); the verifier agrees with the exact-match truth on item i with probability
  p_i = Phi(mu + s * z_i) (probit random effect; s = --item-sd, default 1.0, so p_i ranges from near 0.3 to
  near 1 at a mean agreement of 0.75): a verifier errs on the same items across their candidates;
- a student's K candidates for an item share answer texts: each candidate is the item's modal answer with
  probability --same-answer (default 0.6), otherwise an answer of its own; candidates with the same answer
  (same text, same truth) get the same verdict within one run (one Bernoulli(p_i) draw per distinct answer);
- release A has mean agreement --agreement (default 0.75) = E Phi(mu + s z) = Phi(mu / sqrt(1 + s^2)); release B
  has the same item difficulties and mu_B = Phi^-1(agreement - drop) * sqrt(1 + s^2), so its mean agreement is
  exactly `drop` lower (drop = 0 for A/A: the same verifier re-run with new judgment draws, on the same
  candidates);
- each trial draws a fresh task sample (difficulties, answer groups) and fresh judgments for both releases.

Part 2, the student test alone (no training: the per-seed post-DPO correctness is simulated). What it measures:
how often ``harness.store.compare.student_comparison`` (``seed_delta`` of B's per-seed post rows against A's: the
crossed random-effects t interval, items x training seeds, Satterthwaite df) calls B worse when B is the same
verifier trained with new seeds (A/A), and when B's students end --student-drop (default 5) and twice that points
lower (power), by two criteria: its 95% CI's upper end < 0 (one-sided 0.025) and its one-sided p (``p_below``)
< 0.05 (what the gate feeds to Holm), and how often its CI covers the true difference. Side by side, in the same
trials: the two-level percentile bootstrap it replaced (one item resample shared by all rows, seeds resampled per
side, 2000 replicates; re-implemented here as it was), plain (kappa = 1) and with its seed part widened to the
Student-t width (kappa_3 = 2.69, the gate before this one); the OLD student gate (``paired_delta`` of one seed
each: A's first seed against B's first, item-only paired bootstrap CI upper < 0) and an item-only CI of the seed
means (seeds averaged, items resampled; seed variation ignored). Scale: the demo's, --test-items 1200 test items x
--seeds 3 training seeds per release, one student.

Student model (items x seeds, crossed):

- each test item j has a latent ease z_j ~ N(0, 1) shared by every run (the same question, the same frozen
  student behind every run): item effects with probit SD --student-item-sd (default 2.0);
- each training run (seed) r of release R lands at its own mean accuracy m_r = m_R + u_r, u_r ~ N(0, --seed-sd)
  (default 0.03: 3 points of accuracy from seed to seed), m_A = --student-accuracy (default 0.60), m_B = m_A - drop;
- item-level noise: run r answers item j correctly with probability Phi(mu_r + s z_j), mu_r = Phi^-1(m_r) *
  sqrt(1 + s^2) (so E_j = m_r exactly), independently over (run, item): two runs of one release disagree on about
  E 2p(1-p) of the items (printed);
- each trial draws fresh items, seed effects and answers for both releases. The true B - A is -drop (the
  expected seed-mean accuracy difference); each CI's coverage of it is printed.

Part 3, the WHOLE gate, the way `ladder compare` decides (``harness.store.compare.gate``: Holm's step-down over every
test at family-wise 0.05; B worse when a rejected test's B - A is negative). Each trial simulates three tasks,
each with its rubric test (part 1's verifier model and audit size) and two students (part 2's student model and
scale, the two students independent): 3 tests per task, 9 in all. The one-task gate is Holm over the first task's
3 tests, the three-task gate Holm over all 9 (the production profile's family), both from the same trials. What it
measures: the family-wise false-alarm rate in A/A (B a re-run of A: new judgments, new training seeds), and the
power when the rubric's all-K agreement drops 5 points on the first task, and when one student drops 10 points on
the first task (everything else unchanged). Side by side: the same gate WITHOUT the Holm correction (each test at
0.05 on its own, B worse when any fires), which is why the correction is needed. --gate-trials trials per
condition (>= 200; Wilson 95% CIs).

It also times ``mcnemar_exact`` at 100,000 discordant pairs and ``seed_delta`` at 3/3 seeds x 1200 items.

Run: ``.venv/bin/python bench/compare_calibration.py --trials 2000 --student-trials 1000 --gate-trials 500 --seed
0`` (the figures in bench/README.md; the defaults, 1000, 300 and 300 trials, take about 5 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from calibration_models import (
    as_posts,
    as_verdicts,
    icc,
    judge,
    seed_kappa,
    student_rows,
    task_sample,
    two_level_bootstrap,
)
from scipy.special import ndtr

from harness.metrics import cluster_bootstrap_ci, mcnemar_exact, paired_delta, wilson_interval
from harness.seed_stats import seed_delta
from harness.store.compare import TaskComparison, gate, rubric_comparison, student_comparison

ALPHA = 0.05


def rate(k: int, n: int) -> str:
    lo, hi = wilson_interval(k, n)
    return f"{k / n:.3f} [{lo:.3f}, {hi:.3f}]"


def run(args) -> dict:
    rng = np.random.default_rng(args.seed)
    scale = np.sqrt(1 + args.item_sd**2)
    mu_a = statistics.NormalDist().inv_cdf(args.agreement) * scale
    rows, out, iccs = [], {}, []
    for drop in (0.0, 0.02, 0.05, 0.10):
        mu_b = statistics.NormalDist().inv_cdf(args.agreement - drop) * scale
        counts = dict.fromkeys(("gate", "two_sided_gate", "two_sided", "chi2_gate", "naive_gate", "naive_two_sided",
                                "covers"), 0)
        t0 = time.perf_counter()
        for trial in range(args.trials):
            z, group = task_sample(rng, args.items, 2, args.k, args.same_answer)
            a = judge(rng, ndtr(mu_a + args.item_sd * z), group, args.k)
            b = judge(rng, ndtr(mu_b + args.item_sd * z), group, args.k)
            if drop == 0.0 and trial < 200:
                iccs.append(icc(a))
            r = rubric_comparison(as_verdicts(a), as_verdicts(b), seed=trial)
            counts["gate"] += r.b_worse(ALPHA)
            counts["two_sided_gate"] += r.difference < 0 and r.test.p_value < ALPHA
            counts["two_sided"] += r.test.p_value < ALPHA
            counts["chi2_gate"] += r.difference < 0 and r.test.p_chi2 / 2 < ALPHA  # one-sided normal limit
            only_a, only_b = r.test.discordant
            naive = mcnemar_exact(only_a, only_b)
            counts["naive_gate"] += only_b < only_a and naive < ALPHA
            counts["naive_two_sided"] += naive < ALPHA
            counts["covers"] += r.ci_low <= -drop <= r.ci_high
        out[drop] = counts
        rows.append((drop, counts, time.perf_counter() - t0))
    return {"rows": rows, "by_drop": out, "icc": float(np.mean(iccs))}


def run_students(args) -> dict:
    rng = np.random.default_rng(args.seed + 1)
    out, disc, spread, dfs = {}, [], [], []
    for drop in (0.0, args.student_drop, 2 * args.student_drop):
        counts = dict.fromkeys(("ci", "p", "covers", "plain", "plain_p", "plain_covers", "kappa", "kappa_p",
                                "kappa_covers", "old_gate", "means_gate"), 0)
        t0 = time.perf_counter()
        for trial in range(args.student_trials):
            z = rng.standard_normal(args.test_items)
            a = student_rows(rng, z, args.student_accuracy, args.seeds, args.seed_sd, args.student_item_sd)
            b = student_rows(rng, z, args.student_accuracy - drop, args.seeds, args.seed_sd, args.student_item_sd)
            if drop == 0.0:
                disc.append(float((a[0] != a[1]).mean()) if args.seeds > 1 else float("nan"))
                spread.append(float(a.mean(axis=1).std(ddof=1)) if args.seeds > 1 else float("nan"))
            d, _ = student_comparison(as_posts(a), as_posts(b))  # what `ladder compare` runs
            if drop == 0.0:
                dfs.append(d.df)
            counts["ci"] += d.ci_high < 0
            counts["p"] += d.p_below < ALPHA and d.delta < 0
            counts["covers"] += d.ci_low <= -drop <= d.ci_high
            for key, widen in (("plain", False), ("kappa", True)):  # the bootstraps it replaced, same trial
                lo, hi, p_below = two_level_bootstrap(a, b, widen, seed=trial)
                counts[key] += hi < 0
                counts[f"{key}_p"] += p_below < ALPHA and d.delta < 0
                counts[f"{key}_covers"] += lo <= -drop <= hi
            old = paired_delta(a[0].tolist(), b[0].tolist(), seed=trial)
            counts["old_gate"] += old.ci_high < 0
            _, hi = cluster_bootstrap_ci(b.mean(axis=0) - a.mean(axis=0), np.ones(args.test_items), seed=trial)
            counts["means_gate"] += hi < 0
        out[drop] = (counts, time.perf_counter() - t0)
    return {"by_drop": out, "discordance": float(np.mean(disc)), "seed_spread": float(np.mean(spread)),
            "df": float(np.median(dfs))}


def print_students(args, res) -> None:
    n = args.student_trials
    print(f"Student test of `ladder compare` on simulated post-DPO answers (no training): {args.test_items} test items "
          f"x {args.seeds} training seeds per release, one student; {n} trials per condition; seed {args.seed}.")
    print(f"Student model: item ease z_j ~ N(0, 1) shared by every run, probit item SD {args.student_item_sd}; each "
          f"training seed's mean accuracy = the release's ({args.student_accuracy} for A, lower by the drop for B) + "
          f"N(0, {args.seed_sd}) (seed effect); each (seed, item) answer right with probability "
          f"Phi(mu_seed + {args.student_item_sd} z_j), independently (item-level noise). A/A: B = the same verifier "
          f"trained with new seeds.")
    print(f"Realised: two seeds of one release answer {100 * res['discordance']:.1f}% of the items differently; the "
          f"SD of a release's {args.seeds} seed accuracies averages {100 * res['seed_spread']:.1f} points; the "
          f"crossed interval's Satterthwaite df has median {res['df']:.1f} in A/A.")
    print(f"Crossed = seed_delta as `ladder compare` runs it (crossed random-effects t interval, items x training "
          f"seeds, Satterthwaite df); bootstrap = the two-level percentile bootstrap it replaced (2000 replicates), "
          f"plain (kappa 1) and t-widened (kappa_{args.seeds} = {seed_kappa(args.seeds):.2f}, the previous gate). "
          f"B worse = CI upper < 0 (one-sided 0.025), or p_below < 0.05 with B - A < 0 (one-sided 0.05, the test fed "
          f"to Holm). Rates with Wilson 95% CIs.")
    print()
    header = (f"{'B vs A':>15} | {'crossed: p_below < 0.05':>24} | {'crossed: CI upper < 0':>22} | "
              f"{'crossed CI covers':>21} | {'t-widened boot: p < 0.05':>24} | {'t-widened boot covers':>21} | "
              f"{'plain boot: p < 0.05':>21} | {'plain boot: CI upper < 0':>24} | {'plain boot covers':>21} | "
              f"{'OLD: item-only, 1 seed':>23} | {'item-only CI, seed means':>24}")
    print(header)
    print("-" * len(header))
    for drop, (c, _) in res["by_drop"].items():
        label = "A/A (new seeds)" if drop == 0 else f"{-100 * drop:+.0f} points"
        print(f"{label:>15} | {rate(c['p'], n):>24} | {rate(c['ci'], n):>22} | {rate(c['covers'], n):>21} | "
              f"{rate(c['kappa_p'], n):>24} | {rate(c['kappa_covers'], n):>21} | {rate(c['plain_p'], n):>21} | "
              f"{rate(c['plain'], n):>24} | {rate(c['plain_covers'], n):>21} | {rate(c['old_gate'], n):>23} | "
              f"{rate(c['means_gate'], n):>24}")
    aa = res["by_drop"][0.0][0]
    print()
    print(f"False alarms (A/A): p_below < 0.05 fires in {rate(aa['p'], n)} of trials (nominal 0.05), the crossed "
          f"CI's upper end < 0 in {rate(aa['ci'], n)} (nominal 0.025); coverage {rate(aa['covers'], n)}. The "
          f"t-widened bootstrap (previous gate) fired in {rate(aa['kappa_p'], n)} at p < 0.05 (coverage "
          f"{aa['kappa_covers'] / n:.3f}), the plain two-level bootstrap in {rate(aa['plain'], n)} at CI upper < 0 "
          f"(coverage {aa['plain_covers'] / n:.3f}); the OLD item-only CI on one seed each in "
          f"{aa['old_gate'] / n:.3f}, the item-only CI of the seed means in {aa['means_gate'] / n:.3f}: a seed effect "
          f"of {100 * args.seed_sd:.0f} points is invisible to an item bootstrap.")
    p = res["by_drop"][args.student_drop][0]
    p2 = res["by_drop"][2 * args.student_drop][0]
    print(f"Power at a {100 * args.student_drop:.0f}-point drop: p_below < 0.05 {rate(p['p'], n)}, crossed CI "
          f"{rate(p['ci'], n)} (t-widened bootstrap p < 0.05: {rate(p['kappa_p'], n)}); at "
          f"{200 * args.student_drop:.0f} points: {rate(p2['p'], n)}, {rate(p2['ci'], n)} (t-widened bootstrap "
          f"{rate(p2['kappa_p'], n)}).")


def task_tests(rng, args, task: str, trial: int, rubric_drop: float, student_drops: tuple[float, float]):
    """One simulated task of a comparison: the rubric test (part 1's model) and two students (part 2's), as
    ``ladder compare`` computes them, before the gate."""
    scale = np.sqrt(1 + args.item_sd**2)
    mu_a = statistics.NormalDist().inv_cdf(args.agreement) * scale
    mu_b = statistics.NormalDist().inv_cdf(args.agreement - rubric_drop) * scale
    z, group = task_sample(rng, args.items, 2, args.k, args.same_answer)
    a = judge(rng, ndtr(mu_a + args.item_sd * z), group, args.k)
    b = judge(rng, ndtr(mu_b + args.item_sd * z), group, args.k)
    rubric = rubric_comparison(as_verdicts(a), as_verdicts(b), resamples=200, seed=trial)  # the CI is not gated on
    students, seeds = {}, {}
    for s, drop in enumerate(student_drops):
        zs = rng.standard_normal(args.test_items)
        ra = student_rows(rng, zs, args.student_accuracy, args.seeds, args.seed_sd, args.student_item_sd)
        rb = student_rows(rng, zs, args.student_accuracy - drop, args.seeds, args.seed_sd, args.student_item_sd)
        students[f"s{s}"], seeds[f"s{s}"] = student_comparison(as_posts(ra), as_posts(rb))
    return TaskComparison(task=task, rubric=rubric, students=students, student_seeds=seeds, b_worse=False,
                          reasons=[])


def unadjusted(tasks) -> bool:
    """Each test on its own at 0.05: the rubric's one-sided p, each student's p_below (B - A < 0)."""
    return any((t.rubric.test.p_less < ALPHA and t.rubric.difference < 0)
               or any(d.p_below < ALPHA and d.delta < 0 for d in t.students.values()) for t in tasks)


GATE_CONDITIONS = (("A/A", 0.0, (0.0, 0.0)), ("rubric -5 points, task 1", 0.05, (0.0, 0.0)),
                   ("student -10 points, task 1", 0.0, (0.10, 0.0)))


def run_gate(args) -> dict:
    rng = np.random.default_rng(args.seed + 2)
    out = {}
    for label, rubric_drop, student_drops in GATE_CONDITIONS:
        counts = dict.fromkeys(("one_holm", "one_raw", "three_holm", "three_raw"), 0)
        t0 = time.perf_counter()
        for trial in range(args.gate_trials):
            tasks = [task_tests(rng, args, f"task{i + 1}", trial, rubric_drop if i == 0 else 0.0,
                                student_drops if i == 0 else (0.0, 0.0)) for i in range(3)]
            counts["one_holm"] += any(t.b_worse for t in gate(tasks[:1], ALPHA))  # what `ladder compare` decides
            counts["three_holm"] += any(t.b_worse for t in gate(tasks, ALPHA))
            counts["one_raw"] += unadjusted(tasks[:1])
            counts["three_raw"] += unadjusted(tasks)
        out[label] = (counts, time.perf_counter() - t0)
    return out


def print_gate(args, res) -> None:
    n = args.gate_trials
    print(f"The whole gate of `ladder compare` (harness.store.compare.gate: Holm's step-down at family-wise 0.05 over "
          f"every test; B worse when a rejected test's B - A < 0) on simulated comparisons: each task = the rubric "
          f"test (part 1's model, {args.items} items x 2 students x K={args.k}) + 2 students (part 2's model, "
          f"{args.test_items} items x {args.seeds}/{args.seeds} seeds each); one task = 3 tests, three tasks = 9 "
          f"tests (the production family). {n} trials per condition, seed {args.seed}; the one-task gate is the "
          f"first task of the same trials. Without Holm = each test at 0.05 on its own, B worse when any fires.")
    print()
    header = (f"{'B vs A':>27} | {'1 task (3 tests), Holm':>23} | {'1 task, no correction':>22} | "
              f"{'3 tasks (9 tests), Holm':>24} | {'3 tasks, no correction':>23}")
    print(header)
    print("-" * len(header))
    for label, (c, _) in res.items():
        print(f"{label:>27} | {rate(c['one_holm'], n):>23} | {rate(c['one_raw'], n):>22} | "
              f"{rate(c['three_holm'], n):>24} | {rate(c['three_raw'], n):>23}")
    aa = res["A/A"][0]
    lo, hi = wilson_interval(aa["three_holm"], n)
    print()
    print(f"Family-wise false alarms (A/A): with Holm {rate(aa['one_holm'], n)} on one task and "
          f"{rate(aa['three_holm'], n)} on three (nominal <= 0.05; at most 0.05 within its CI: "
          f"{'yes' if lo <= 0.05 else 'NO'}); without the correction {rate(aa['one_raw'], n)} and "
          f"{rate(aa['three_raw'], n)}.")
    r5, s10 = res["rubric -5 points, task 1"][0], res["student -10 points, task 1"][0]
    print(f"Power: a 5-point rubric drop on one task is flagged in {rate(r5['one_holm'], n)} (one task) / "
          f"{rate(r5['three_holm'], n)} (three tasks) with Holm; one student 10 points lower on one task in "
          f"{rate(s10['one_holm'], n)} / {rate(s10['three_holm'], n)}.")
    print(f"Time: {sum(t for _, t in res.values()):.0f} s.")


def timings() -> tuple[float, float]:
    mcnemar_exact(3, 4)  # import scipy outside the timing
    times = []
    for _ in range(9):
        t0 = time.perf_counter()
        mcnemar_exact(49_300, 50_700)
        times.append(time.perf_counter() - t0)
    rng = np.random.default_rng(0)
    before, after = rng.random((3, 1200)) < 0.5, rng.random((3, 1200)) < 0.55
    seed_delta(before, after)
    sd = []
    for _ in range(7):
        t0 = time.perf_counter()
        seed_delta(before, after)
        sd.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times), 1000 * statistics.median(sd)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=1000, help="simulated comparisons per condition (>= 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--items", type=int, default=200, help="audit items of the task")
    parser.add_argument("--k", type=int, default=8, help="candidates per item and student")
    parser.add_argument("--agreement", type=float, default=0.75, help="release A's mean agreement")
    parser.add_argument("--item-sd", type=float, default=1.0, help="SD of the per-item probit difficulty")
    parser.add_argument("--same-answer", type=float, default=0.6, help="P(a candidate is the item's modal answer)")
    parser.add_argument("--student-trials", type=int, default=300,
                        help="simulated student comparisons per condition (>= 200; 0 skips part 2)")
    parser.add_argument("--test-items", type=int, default=1200, help="test items (the demo's 1200)")
    parser.add_argument("--seeds", type=int, default=3, help="training seeds per release")
    parser.add_argument("--student-accuracy", type=float, default=0.60, help="A's mean post-DPO accuracy")
    parser.add_argument("--student-item-sd", type=float, default=2.0, help="probit SD of the test items' ease")
    parser.add_argument("--seed-sd", type=float, default=0.03, help="SD of a training seed's mean accuracy")
    parser.add_argument("--student-drop", type=float, default=0.05, help="B's drop for the power row (and twice it)")
    parser.add_argument("--gate-trials", type=int, default=300,
                        help="simulated comparisons per condition for the whole gate (>= 200; 0 skips part 3)")
    return parser.parse_args()


def print_rubric(args, res) -> None:
    n, per = args.trials, args.items * 2 * args.k
    print(f"Part 1. The rubric test alone (its own calibration: alpha 0.05, unadjusted; the gate corrects it with the "
          f"others in part 3) on simulated verifiers: one task, {args.items} audit items x 2 students "
          f"x K={args.k} = {per} paired judgments per release; {n} trials per condition; seed {args.seed}.")
    print(f"Verifier model: per-item probit difficulty (SD {args.item_sd}) shared by both students' candidates; "
          f"a candidate is the item's modal answer with p={args.same_answer} and identical answers get one verdict; "
          f"A's mean agreement {args.agreement}; B = same item difficulties, mean agreement lower by the drop "
          f"(A/A: same verifier, new judgment draws).")
    print(f"Within-item correlation of agreement (ICC, 16 judgments per item): {res['icc']:.2f} "
          f"(design effect 1 + 15 x ICC = {1 + 15 * res['icc']:.1f}: the naive test treats {per} judgments as "
          f"independent, worth about {per / (1 + 15 * res['icc']):.0f}).")
    print("Rubric test = B's all-K agreement lower with the ONE-sided (lower-tail) exact sign-flip p < 0.05; previous "
          "gate = B lower with the two-sided p < 0.05; chi2 variant = the one-sided normal limit of the same "
          "statistic; OLD gate = exact McNemar over all judgments as if independent, B lower, two-sided p < 0.05. "
          "Rates with Wilson 95% CIs.")
    print()
    header = (f"{'B vs A':>14} | {'rubric test: one-sided':>26} | {'previous: two-sided':>21} | "
              f"{'chi2/normal variant':>21} | {'OLD gate: naive McNemar':>23} | {'CI covers truth':>21}")
    print(header)
    print("-" * len(header))
    for drop, c, _ in res["rows"]:
        label = "A/A (same)" if drop == 0 else f"{-100 * drop:+.0f} points"
        print(f"{label:>14} | {rate(c['gate'], n):>26} | {rate(c['two_sided_gate'], n):>21} | "
              f"{rate(c['chi2_gate'], n):>21} | {rate(c['naive_gate'], n):>23} | {rate(c['covers'], n):>21}")
    aa = res["by_drop"][0.0]
    lo, hi = wilson_interval(aa["gate"], n)
    lo2, hi2 = wilson_interval(aa["two_sided"], n)
    print()
    print(f"False alarms (A/A): the rubric test fires in {aa['gate'] / n:.3f} [{lo:.3f}, {hi:.3f}] of trials "
          f"(nominal 0.05, one-sided). Wilson lower end < 0.05: {'yes' if lo < 0.05 else 'NO'}; at most 0.05 "
          f"within its CI: {'yes' if lo <= 0.05 else 'NO'}. The previous two-sided gate fired in "
          f"{aa['two_sided_gate'] / n:.3f} (nominal 0.025); the two-sided test rejects in either direction in "
          f"{aa['two_sided'] / n:.3f} [{lo2:.3f}, {hi2:.3f}] (nominal 0.05).")
    print(f"The OLD naive gate fires in {aa['naive_gate'] / n:.3f} of A/A trials (two-sided: "
          f"{aa['naive_two_sided'] / n:.3f}): that is why it was replaced.")
    p5 = res["by_drop"][0.05]
    print(f"Power at a 5-point drop: {rate(p5['gate'], n)} (previous two-sided gate {rate(p5['two_sided_gate'], n)}); "
          f"at 2 points: {rate(res['by_drop'][0.02]['gate'], n)}; at 10 points: "
          f"{rate(res['by_drop'][0.10]['gate'], n)}.")


def main() -> None:
    args = parse_args()
    t0 = time.perf_counter()
    print_rubric(args, run(args))
    if args.student_trials:
        print()
        print("Part 2. ", end="")
        print_students(args, run_students(args))
    if args.gate_trials:
        print()
        print("Part 3. ", end="")
        print_gate(args, run_gate(args))
    mc_ms, sd_ms = timings()
    print()
    print(f"Timing: mcnemar_exact(49300, 50700) (100,000 discordant pairs): median {mc_ms:.3f} ms; "
          f"seed_delta 3/3 seeds x 1200 items: median {sd_ms:.1f} ms.")
    print(f"Total {time.perf_counter() - t0:.0f} s.")


if __name__ == "__main__":
    main()
