"""Reports over the store: `compare` (a verifier release gate)."""

from __future__ import annotations

from typing import Annotated

import typer

from harness.cli.common import JsonFlag, app, bad_input, echo_json, engine
from harness.cli.printing import print_compare

PANEL = "Reports"


@app.command("compare", rich_help_panel=PANEL)
def compare_cmd(
    a: Annotated[str, typer.Argument(help="Baseline release: FAMILY@RELEASE or a submission id.")],
    b: Annotated[str, typer.Argument(help="Candidate release: FAMILY@RELEASE or a submission id.")],
    alpha: Annotated[float, typer.Option(help="Family-wise significance level of the gate: Holm's step-down over "
                                               "all its tests (each task's rubric test, one-sided clustered "
                                               "McNemar; each student's test, one-sided t p over items x "
                                               "training seeds).")] = 0.05,
    as_json: JsonFlag = False,
) -> None:
    """Gate a verifier release: exit 1 when B is significantly worse than A on any task (same protocol; Holm over
    every task's rubric and student tests, family-wise level --alpha)."""
    from harness.store.compare import CompareError, compare

    if not 0 < alpha < 1:
        bad_input(f"--alpha must be between 0 and 1, got {alpha}")
    try:
        result = compare(engine(), a, b, alpha=alpha)
    except CompareError as err:
        bad_input(str(err))
    if as_json:
        echo_json(result)
    else:
        print_compare(result)
    if result.b_worse:
        raise typer.Exit(1)
