"""Tables as downloads: CSV (spreadsheet-safe) and Parquet (typed), from (columns, rows) (pure)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from leaderboard.views import LeaderboardRow

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value):
    """A string a spreadsheet would run as a formula gets a leading apostrophe (OWASP's CSV-injection advice)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(columns: Sequence[str], rows: Sequence[Sequence]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return buf.getvalue()


def to_parquet(columns: Sequence[str], rows: Sequence[Sequence]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pydict({c: [r[i] for r in rows] for i, c in enumerate(columns)})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def leaderboard_table(rows: Sequence[LeaderboardRow], students: Sequence[str]) -> tuple[list[str], list[list]]:
    """One flat row per verifier release: the leaderboard as a spreadsheet sees it (fractions, not percents).

    A student's post and delta are means over its training seeds; delta_ci_* cover test items and seeds. The
    per-student training-seed columns (``S:seeds``, ``S:seed_sd``) come after every other column, so the
    columns of earlier exports keep their positions. Each seed's own result: the submission's seeds download."""
    columns = ["rank", "submission_id", "name", "family", "release", "backend", "model", "parameters", "simulated",
               "protocol_version", "protocol_digest", "rubric_accuracy", "rubric_ci_low", "rubric_ci_high", "n",
               "parse_failure_rate", "gated_direction", "usd_per_1k", "gpu_hours_per_1k", "pareto",
               "silent_regression"]
    for s in students:
        columns += [f"{s}:gate", f"{s}:baseline", f"{s}:post", f"{s}:delta", f"{s}:delta_ci_low",
                    f"{s}:delta_ci_high", f"{s}:mcnemar_p", f"{s}:n", f"{s}:silent_regression"]
    for s in students:
        columns += [f"{s}:seeds", f"{s}:seed_sd"]
    out = []
    for r in rows:
        line = [r.rank, r.submission_id, r.name, r.family, r.release, r.backend, r.model, r.parameters, r.simulated,
                r.protocol_version, r.protocol_digest, r.rubric_accuracy, r.ci_low, r.ci_high, r.n,
                r.parse_failure_rate, r.gated_direction, r.usd_per_1k, r.gpu_hours_per_1k, r.pareto,
                r.silent_regression]
        cells = [r.student(s) for s in students]
        for c in cells:
            line += ([c.gate, c.baseline, c.post, c.delta, c.delta_ci_low, c.delta_ci_high, c.mcnemar_p, c.n,
                      c.silent_regression] if c else [None] * 9)
        for c in cells:
            line += [c.seeds, c.seed_sd] if c else [None, None]
        out.append(line)
    return columns, out
