"""The leaderboard's charts as SVG, drawn with matplotlib on the server (no JavaScript, no CDN: pages work
offline and in the static export).

Served as ``<img>`` sources, so an SVG can never run script in the page; text is drawn as glyph paths and
user-controlled names are cut short and kept out of mathtext (``$`` escaped). Figures use the object API
(no pyplot global state) under one lock, since matplotlib's font cache is shared between threads.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
from matplotlib.colors import LinearSegmentedColormap  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from leaderboard.views import LeaderboardRow, StudentDetail  # noqa: E402

_LOCK = threading.Lock()
STUDENT_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
CMAP = LinearSegmentedColormap.from_list("acc", ["#f7fbff", "#6baed6", "#08306b"])


def label(text: str, width: int = 28) -> str:
    """A user-controlled name made safe for a plot: one line, short, no mathtext."""
    text = " ".join(text.split())
    if len(text) > width:
        text = text[: width - 1] + "…"
    return text.replace("\\", "\\\\").replace("$", r"\$")


def _svg(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    return buf.getvalue()


def _empty(message: str) -> bytes:
    with _LOCK:
        fig = Figure(figsize=(5, 1.2))
        fig.text(0.5, 0.5, message, ha="center", va="center", color="#555")
        return _svg(fig)


def heatmap(by_task: dict[str, list[LeaderboardRow]], top: int = 20) -> bytes:
    """Verifier x task rubric accuracy; each cell marked above (▲) or below (▼) its students' baselines."""
    releases: dict[tuple[str, str], tuple[str, dict[str, LeaderboardRow]]] = {}
    for task, rows in by_task.items():
        for r in rows:
            releases.setdefault((r.family, r.release), (f"{r.name} {r.release}", {}))[1][task] = r
    if not releases:
        return _empty("no results yet")
    tasks = list(by_task)
    ranked = sorted(releases.values(), key=lambda v: -sum(x.rubric_accuracy for x in v[1].values()) / len(tasks))
    ranked = ranked[:top]
    with _LOCK:
        fig = Figure(figsize=(1.6 + 1.3 * len(tasks), 0.8 + 0.42 * len(ranked)))
        ax = fig.add_subplot()
        grid = [[cells[t].rubric_accuracy if t in cells else float("nan") for t in tasks] for _, cells in ranked]
        im = ax.imshow(grid, cmap=CMAP, vmin=0, vmax=1, aspect="auto")
        for y, (_, cells) in enumerate(ranked):
            for x, task in enumerate(tasks):
                r = cells.get(task)
                if r is None:
                    continue
                below = any(s.gate == "below" for s in r.students)
                mark = "▼" if below else "▲"
                ax.text(x, y, f"{r.rubric_accuracy:.2f} {mark}", ha="center", va="center", fontsize=9,
                        color="white" if r.rubric_accuracy > 0.55 else "black",
                        fontweight="bold" if below else "normal")
        ax.set_xticks(range(len(tasks)), [label(t) for t in tasks])
        ax.set_yticks(range(len(ranked)), [label(name, 34) for name, _ in ranked])
        ax.xaxis.tick_top()
        ax.set_title("Rubric accuracy per task (▲ above every student's baseline, ▼ below one)", fontsize=9,
                     pad=24)
        fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
        return _svg(fig)


def accuracy_vs_delta(rows: Sequence[LeaderboardRow], task: str) -> bytes:
    """The paper's key figure: rubric accuracy (x) against each student's self-DPO delta (y), with each
    student's baseline as the threshold line: left of it the rule says do not run the loop."""
    students = sorted({s.student for r in rows for s in r.students})
    if not rows or not students:
        return _empty("no student results for this task yet")
    with _LOCK:
        fig = Figure(figsize=(6.4, 4.2))
        ax = fig.add_subplot()
        for color, student in zip(STUDENT_COLORS * 4, students, strict=False):
            pts = [(r, s) for r in rows if (s := r.student(student)) is not None and s.delta is not None]
            if not pts:
                continue
            xs = [r.rubric_accuracy for r, _ in pts]
            ys = [100 * s.delta for _, s in pts]
            xerr = [[r.rubric_accuracy - r.ci_low for r, _ in pts], [r.ci_high - r.rubric_accuracy for r, _ in pts]]
            yerr = [[100 * (s.delta - s.delta_ci_low) for _, s in pts],
                    [100 * (s.delta_ci_high - s.delta) for _, s in pts]]
            ax.errorbar(xs, ys, xerr=xerr, yerr=yerr, fmt="o", color=color, ecolor=color, alpha=0.85, capsize=2,
                        label=label(student), markersize=5)
            base = next((s.gate_baseline if s.gate_baseline is not None else s.baseline for _, s in pts), None)
            if base is not None:
                ax.axvline(base, color=color, linestyle="--", linewidth=1)
        ax.axhline(0, color="#444", linewidth=0.8)
        ax.set_xlabel("rubric accuracy on the target task (95% CI)")
        ax.set_ylabel("student accuracy change after self-DPO\n(seed mean, points, 95% CI: items and seeds)")
        ax.set_title(f"{label(task)}: rubric accuracy vs student delta (dashed: student baseline)", fontsize=9)
        ax.legend(fontsize=8, loc="best")
        ax.grid(alpha=0.25)
        return _svg(fig)


def cost_vs_accuracy(rows: Sequence[LeaderboardRow], task: str) -> bytes:
    """Cost per 1,000 judgments against rubric accuracy, with the Pareto frontier drawn through its points."""
    priced = [r for r in rows if r.usd_per_1k is not None]
    if not priced:
        return _empty("no priced verifiers for this task yet")
    with _LOCK:
        fig = Figure(figsize=(6.4, 4.0))
        ax = fig.add_subplot()
        ax.scatter([r.usd_per_1k for r in priced], [r.rubric_accuracy for r in priced], s=22, color="#6c7a89",
                   label="verifier", zorder=2)
        front = sorted((r for r in priced if r.pareto), key=lambda r: r.usd_per_1k)
        if front:
            ax.step([r.usd_per_1k for r in front], [r.rubric_accuracy for r in front], where="post", color="#d62728",
                    linewidth=1.5, label="Pareto frontier", zorder=3)
            ax.scatter([r.usd_per_1k for r in front], [r.rubric_accuracy for r in front], s=40, color="#d62728",
                       zorder=4)
            for r in front[:12]:
                ax.annotate(label(f"{r.name} {r.release}", 22), (r.usd_per_1k, r.rubric_accuracy), fontsize=7,
                            xytext=(4, 4), textcoords="offset points")
        costs = [r.usd_per_1k for r in priced if r.usd_per_1k > 0]
        if costs and max(costs) / min(costs) > 100 and len(costs) == len(priced):
            ax.set_xscale("log")
        ax.set_xlabel("$ per 1,000 judgments".replace("$", r"\$"))
        ax.set_ylabel("rubric accuracy")
        ax.set_title(f"{label(task)}: cost vs rubric accuracy", fontsize=9)
        ax.legend(fontsize=8, loc="lower right")
        ax.grid(alpha=0.25)
        return _svg(fig)


SEED_COLORS = ("#424242", "#ff7f0e", "#9467bd", "#17becf", "#8c564b", "#e377c2", "#bcbd22", "#7f7f7f")


def _running_mean(values: Sequence[float], window: int) -> list[float]:
    return [sum(values[max(0, i - window + 1): i + 1]) / len(values[max(0, i - window + 1): i + 1])
            for i in range(len(values))]


def _seed_lines(ax, acc, i: int, seed: int, curve: Sequence[tuple[int, float]], rounds: Sequence[dict],
                one: bool) -> int:
    """One training seed's loss line (smoothed over the step-to-step noise when long enough) and probe accuracy
    per round; returns its last step."""
    color = SEED_COLORS[i % len(SEED_COLORS)]
    name = "" if one else f"seed {seed}: "
    if curve:
        steps, losses = [s for s, _ in curve], [v for _, v in curve]
        window = max(1, len(losses) // 20)
        if window > 1:  # the trend a reader compares with the accuracy, over the step-to-step noise
            ax.plot(steps, losses, color="#bdbdbd" if one else color, alpha=1.0 if one else 0.3,
                    linewidth=0.8, label="DPO loss per step" if i == 0 else None)
            (line,) = ax.plot(steps, _running_mean(losses, window), color=color, linewidth=1.6,
                              label=f"{name}DPO loss, mean of last {window} steps")
        else:  # too few steps to smooth: the per-step line is the seed's line
            (line,) = ax.plot(steps, losses, color="#bdbdbd" if one else color,
                              linewidth=0.8 if one else 1.2, label=f"{name}DPO loss per step")
        line.set_gid(f"loss-seed-{int(seed)}")
    ends, step = [], 0
    for r in rounds:
        step += r.get("steps") or 0
        if r.get("probe_accuracy") is not None:
            ends.append((step, 100 * r["probe_accuracy"]))
    if ends:
        acc.plot([s for s, _ in ends], [a for _, a in ends], "o--" if not one else "o-",
                 color="#1f77b4" if one else color, markersize=4,
                 label=("probe exact-match (train split), per round" + ("" if one else ", per seed"))
                 if i == 0 else None)
    return max(step, curve[-1][0] if curve else 0)


def training(curves: Mapping[int, Sequence[tuple[int, float]]], rounds: Mapping[int, Sequence[dict]],
             baseline: float | None, post: float | None, title: str,
             seed_posts: Mapping[int, float | None] | None = None) -> bytes:
    """The silent-regression view: DPO loss per step and exact-match accuracy per round on one chart, one line
    per training seed (each seed is its own self-DPO run from the frozen student; their steps are not pooled).

    ``curves``: seed -> [(step, loss)]; ``rounds``: seed -> round logs; ``post``: the seed-mean test accuracy
    after self-DPO, ``seed_posts`` each seed's. Each seed's loss line has the SVG id ``loss-seed-<seed>``."""
    seeds = sorted(set(curves) | set(rounds))
    if not any(curves.values()) and not any(rounds.values()):
        return _empty("no training recorded")
    one = len(seeds) == 1
    with _LOCK:
        fig = Figure(figsize=(6.4, 3.6))
        ax = fig.add_subplot()
        acc = ax.twinx()
        last_step = 0
        for i, seed in enumerate(seeds):
            last_step = max(last_step, _seed_lines(ax, acc, i, seed, curves.get(seed) or [], rounds.get(seed) or [],
                                                   one))
        if baseline is not None:
            acc.scatter([0], [100 * baseline], marker="s", color="#2ca02c", zorder=5, label="test exact-match before")
        x_after = max(last_step, 1)
        if not one and seed_posts:
            pts = [(i, v) for i, s in enumerate(seeds) if (v := seed_posts.get(s)) is not None]
            if pts:
                acc.scatter([x_after] * len(pts), [100 * v for _, v in pts], marker="d", s=18, zorder=5,
                            facecolors="none", edgecolors=[SEED_COLORS[i % len(SEED_COLORS)] for i, _ in pts],
                            label="test exact-match after, per seed")
        if post is not None:
            acc.scatter([x_after], [100 * post], marker="D",
                        color="#d62728" if baseline is not None and post < baseline else "#2ca02c", zorder=6,
                        label="test exact-match after" + ("" if one else f" (mean of {len(seeds)} seeds)"))
        ax.set_xlabel("DPO step" + ("" if one else " (each seed's own run)"))
        ax.set_ylabel("DPO loss")
        acc.set_ylabel("exact-match accuracy (%)")
        handles = ax.get_legend_handles_labels()[0] + acc.get_legend_handles_labels()[0]
        if one:
            acc.legend(handles, [h.get_label() for h in handles], fontsize=7, loc="lower left")
        else:  # one entry per seed: below the axes, where it hides no curve
            fig.legend(handles, [h.get_label() for h in handles], fontsize=7, loc="upper center", ncol=2,
                       bbox_to_anchor=(0.5, 0.0), frameon=False)
        ax.set_title(label(title, 60), fontsize=9)
        ax.grid(alpha=0.25)
        return _svg(fig)


def seed_deltas(students: Sequence[StudentDetail], task: str) -> bytes:
    """Each student's self-DPO delta per training seed beside their mean: a dot plot, one column per student.

    A seed is a small marker with its item-only 95% CI as a thin bar; the seed mean a larger diamond with its
    two-level 95% CI (items and seeds) as a thick bar; a single-seed result is its one point. Every marker carries
    an SVG id (``seed-point-<student>-<seed>``, ``seed-mean-<student>``; the student by position) for tests and
    scripts."""
    shown = [s for s in students if s.delta is not None or any(r.delta is not None for r in s.seed_results)]
    if not shown:
        return _empty("no self-DPO deltas for this task")
    with _LOCK:
        fig = Figure(figsize=(1.8 + 1.6 * len(shown), 3.4))
        ax = fig.add_subplot()
        for i, (color, s) in enumerate(zip(STUDENT_COLORS * 4, shown, strict=False)):
            runs = [r for r in s.seed_results if r.delta is not None]
            mean = s.delta is not None and s.seeds > 1
            left, span = (i - 0.35, 0.5) if mean else (i - 0.25, 0.5)  # seeds left of their mean, or centred
            for j, r in enumerate(runs):
                x = left + span * j / (len(runs) - 1) if len(runs) > 1 else (i - 0.1 if mean else i)
                lo = r.delta_ci_low if r.delta_ci_low is not None else r.delta
                hi = r.delta_ci_high if r.delta_ci_high is not None else r.delta
                c = ax.errorbar([x], [100 * r.delta], yerr=[[100 * (r.delta - lo)], [100 * (hi - r.delta)]], fmt="o",
                                color=color, ecolor=color, elinewidth=0.8, capsize=0, markersize=4, alpha=0.8,
                                label=("one training seed (95% CI: items)" if i == 0 and j == 0 else None))
                c.lines[0].set_gid(f"seed-point-{i}-{r.seed}")
            if mean:
                lo = s.delta_ci_low if s.delta_ci_low is not None else s.delta
                hi = s.delta_ci_high if s.delta_ci_high is not None else s.delta
                c = ax.errorbar([i + 0.3], [100 * s.delta], yerr=[[100 * (s.delta - lo)], [100 * (hi - s.delta)]],
                                fmt="D", color=color, ecolor=color, elinewidth=2.4, capsize=4, markersize=8,
                                label="seed mean (95% CI: items and seeds)" if i == 0 else None)
                c.lines[0].set_gid(f"seed-mean-{i}")
        ax.axhline(0, color="#444", linewidth=0.8)
        ax.set_xticks(range(len(shown)), [f"{label(s.student, 22)}\n({s.n} x {s.seeds})" for s in shown],
                      fontsize=8)
        ax.set_xlim(-0.7, len(shown) - 0.3)
        ax.set_ylabel("accuracy change after self-DPO (points)")
        ax.set_title(f"{label(task)}: delta per training seed and their mean", fontsize=9)
        ax.legend(fontsize=7, loc="best")
        ax.grid(alpha=0.25, axis="y")
        return _svg(fig)
