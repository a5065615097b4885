"""Ranking, the Pareto frontier, sorting and filtering of leaderboard rows (pure functions).

The official order is the paper's: rubric accuracy on the target task, descending; ties broken by cost per
1,000 judgments, ascending (an unpriced verifier sorts after priced ones). Equal accuracy and equal cost share
a rank ("1224" ranking). Users may re-sort the table by other columns; the rank column keeps the official rank.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

SORT_KEYS = ("rank", "rubric", "cost", "gpu", "params", "name", "n", "parse", "direction", "auroc")
DELTA_PREFIX = "delta:"


@dataclass(frozen=True)
class Scored:
    """What ranking needs of a row: its accuracy and its cost per 1k judgments (None = unpriced)."""

    accuracy: float
    cost: float | None


def _official_key(row: Scored) -> tuple:
    return (-row.accuracy, row.cost is None, row.cost if row.cost is not None else math.inf)


def official_ranks(rows: Sequence[Scored]) -> list[int]:
    """Rank of every row in input order (1 = best); identical (accuracy, cost) share a rank."""
    order = sorted(range(len(rows)), key=lambda i: _official_key(rows[i]))
    ranks = [0] * len(rows)
    for pos, i in enumerate(order):
        prev = order[pos - 1] if pos else None
        same = prev is not None and _official_key(rows[prev]) == _official_key(rows[i])
        ranks[i] = ranks[prev] if same else pos + 1
    return ranks


def pareto_flags(rows: Sequence[Scored]) -> list[bool | None]:
    """True where no other priced row is at least as accurate and as cheap and strictly better in one.

    Rows grouped by cost, cheapest first: a row is on the frontier iff it is the most accurate of its cost
    group and more accurate than every cheaper row. Unpriced rows get None (not comparable on cost).
    """
    flags: list[bool | None] = [None] * len(rows)
    priced = sorted((i for i, r in enumerate(rows) if r.cost is not None), key=lambda i: rows[i].cost)
    best = -math.inf
    for _, members in groupby(priced, key=lambda i: rows[i].cost):
        group = list(members)
        top = max(rows[i].accuracy for i in group)
        for i in group:
            flags[i] = rows[i].accuracy == top and top > best
        best = max(best, top)
    return flags


def _none_last(value: Any, descending: bool) -> tuple:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return (1, 0)
    return (0, -value if descending and isinstance(value, int | float) else value)


def sort_key(key: str) -> Callable[[Any], Any]:
    """The attribute a sort key orders by (on a LeaderboardRow); KeyError for an unknown key."""
    if key.startswith(DELTA_PREFIX):
        student = key.removeprefix(DELTA_PREFIX)
        return lambda r: (s.delta if (s := r.student(student)) is not None else None)
    getters = {"rank": lambda r: r.rank, "rubric": lambda r: r.rubric_accuracy, "cost": lambda r: r.usd_per_1k,
               "gpu": lambda r: r.gpu_hours_per_1k, "params": lambda r: r.parameters,
               "name": lambda r: r.name.casefold(), "n": lambda r: r.n, "parse": lambda r: r.parse_failure_rate,
               "direction": lambda r: r.gated_direction, "auroc": lambda r: r.auroc}
    return getters[key]


def default_descending(key: str) -> bool:
    """The direction a column sorts in on first click: best first."""
    return key in ("rubric", "n", "direction", "auroc") or key.startswith(DELTA_PREFIX)


def sort_rows(rows: list, key: str, descending: bool) -> list:
    """Rows ordered by ``key`` (missing values last in both directions; ties keep the official order)."""
    get = sort_key(key)
    if key == "name":
        return sorted(rows, key=lambda r: (get(r), r.rank), reverse=descending)
    return sorted(rows, key=lambda r: (*_none_last(get(r), descending), r.rank))


#: What kind of verifier a row is: a generative judge whose answer is parsed for a score, a log-probability judge
#: (score = P(yes) / (P(yes) + P(no)) of its first token), a scalar reward model (a value head's reward, mapped to a
#: score by the manifest's declared logistic), or a simulated one (harness validation).
KINDS = ("generative", "logprob", "reward", "simulated")

#: The backend that runs reward models (``harness.verifiers.reward_model``): its manifests have no judging section.
REWARD_BACKEND = "reward_model"


def verifier_kind(simulated: bool, judging_mode: str | None, backend: str = "") -> str:
    """The row's kind (:data:`KINDS`) from its release, its manifest's ``judging.mode`` and its backend."""
    if simulated:
        return "simulated"
    if backend == REWARD_BACKEND or judging_mode == "reward":
        return "reward"
    return "logprob" if judging_mode == "logprob" else "generative"


@dataclass(frozen=True)
class Filters:
    """Table filters (all optional); every field is a URL query parameter of the page."""

    q: str = ""
    backend: str = ""
    kind: str = ""
    hide_simulated: bool = False
    pareto_only: bool = False
    gate: str = ""  # "above": above every student's baseline; "below": below at least one

    def keep(self, row) -> bool:
        if self.q:
            hay = " ".join((row.name, row.family, row.release, row.backend, row.model or "")).casefold()
            if self.q.casefold() not in hay:
                return False
        if self.backend and row.backend != self.backend:
            return False
        if self.kind and row.kind != self.kind:
            return False
        if self.hide_simulated and row.simulated:
            return False
        if self.pareto_only and not row.pareto:
            return False
        gates = [s.gate for s in row.students]
        if self.gate == "above" and not (gates and all(g == "above" for g in gates)):
            return False
        return not (self.gate == "below" and "below" not in gates)

    @property
    def active(self) -> bool:
        return bool(self.q or self.backend or self.kind or self.hide_simulated or self.pareto_only or self.gate)
