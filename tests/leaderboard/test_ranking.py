"""The official order (rubric accuracy, then cost), the Pareto frontier, sorting and filtering."""

from __future__ import annotations

from types import SimpleNamespace

from leaderboard.ranking import Filters, Scored, official_ranks, pareto_flags, sort_rows


def test_rank_is_accuracy_descending_with_cost_breaking_ties():
    rows = [Scored(0.80, 2.0), Scored(0.90, 5.0), Scored(0.80, 1.0), Scored(0.80, None), Scored(0.95, None)]
    assert official_ranks(rows) == [4, 2, 3, 5, 1]


def test_identical_accuracy_and_cost_share_a_rank():
    assert official_ranks([Scored(0.7, 1.0), Scored(0.9, 1.0), Scored(0.7, 1.0), Scored(0.5, 0.0)]) == [2, 1, 2, 4]


def test_pareto_marks_verifiers_nobody_beats_on_both_accuracy_and_cost():
    rows = [Scored(0.90, 5.0),   # most accurate: on the frontier
            Scored(0.80, 2.0),   # cheaper than the 0.90 one: on the frontier
            Scored(0.70, 3.0),   # 0.80 is cheaper and better: dominated
            Scored(0.80, 2.0),   # identical to row 1: neither dominates the other
            Scored(0.60, 0.5),   # cheapest: on the frontier
            Scored(0.60, 0.5 + 1e-9),  # same accuracy, a hair dearer: dominated
            Scored(0.99, None)]  # unpriced: not comparable
    assert pareto_flags(rows) == [True, True, False, True, True, False, None]


def test_pareto_of_free_verifiers_keeps_only_the_most_accurate():
    assert pareto_flags([Scored(0.5, 0.0), Scored(0.7, 0.0), Scored(0.6, 0.0)]) == [False, True, False]


def _row(name, rank, acc, cost, delta=None, simulated=False, pareto=None, gates=("above",)):
    students = [SimpleNamespace(student="s", delta=delta, gate=g) for g in gates]
    return SimpleNamespace(name=name, family=name, release="1", backend="hf", model=None, rank=rank,
                           rubric_accuracy=acc, usd_per_1k=cost, simulated=simulated, pareto=pareto,
                           students=students, student=lambda n, st=students: next((x for x in st if x.student == n),
                                                                                   None))


def test_sorting_puts_missing_values_last_in_both_directions():
    rows = [_row("a", 1, 0.9, None), _row("b", 2, 0.8, 3.0), _row("c", 3, 0.7, 1.0)]
    assert [r.name for r in sort_rows(rows, "cost", descending=False)] == ["c", "b", "a"]
    assert [r.name for r in sort_rows(rows, "cost", descending=True)] == ["b", "c", "a"]
    assert [r.name for r in sort_rows(rows, "rubric", descending=False)] == ["c", "b", "a"]


def test_sorting_by_a_students_delta():
    rows = [_row("a", 1, 0.9, 1.0, delta=-0.05), _row("b", 2, 0.8, 1.0, delta=0.09), _row("c", 3, 0.7, 1.0)]
    assert [r.name for r in sort_rows(rows, "delta:s", descending=True)] == ["b", "a", "c"]


def test_filters():
    rows = [_row("Qwen judge", 1, 0.9, 1.0, pareto=True), _row("sim", 2, 0.8, 0.0, simulated=True),
            _row("low", 3, 0.3, 2.0, gates=("above", "below"))]
    names = lambda f: [r.name for r in rows if f.keep(r)]  # noqa: E731
    assert names(Filters(q="qwen")) == ["Qwen judge"]
    assert names(Filters(hide_simulated=True)) == ["Qwen judge", "low"]
    assert names(Filters(pareto_only=True)) == ["Qwen judge"]
    assert names(Filters(gate="below")) == ["low"]
    assert names(Filters(gate="above")) == ["Qwen judge", "sim"]
