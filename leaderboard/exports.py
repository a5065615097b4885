"""Tables as downloads: CSV (spreadsheet-safe), JSON and Parquet (typed), from (columns, rows) (pure); CSV and JSON
also as a stream of pieces, from chunks of rows."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from leaderboard.views import LeaderboardRow, utc

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value):
    """A string a spreadsheet would run as a formula gets a leading apostrophe (OWASP's CSV-injection advice)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(columns: Sequence[str], rows: Sequence[Sequence]) -> str:
    return "".join(csv_chunks(columns, [rows]))


def csv_chunks(columns: Sequence[str], chunks: Iterable[Sequence[Sequence]]) -> Iterator[str]:
    """CSV text, the header first, then one piece per chunk of rows: a download streams as the rows arrive."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for rows in chunks:
        writer.writerows([_cell(v) for v in row] for row in rows)
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    yield buf.getvalue()


def json_chunks(columns: Sequence[str], chunks: Iterable[Sequence[Sequence]]) -> Iterator[str]:
    """A JSON array of one object per row (keys: ``columns``), one piece per chunk of rows. Strict JSON: a
    non-finite number is null, a time is ISO 8601 with its zone."""
    yield "["
    first = True
    for rows in chunks:
        for row in rows:
            yield ("" if first else ",") + json.dumps(dict(zip(columns, map(_json_value, row), strict=True)),
                                                     allow_nan=False)
            first = False
    yield "]"


def json_document(head: dict, chunks: Iterable[Sequence[str]]) -> Iterator[str]:
    """``{**head, "items": [...]}`` as pieces: ``head``'s fields, then each chunk of already-encoded items."""
    yield json.dumps(head, allow_nan=False)[:-1] + (', "items": [' if head else '"items": [')
    first = True
    for encoded in chunks:
        if encoded:
            yield ("" if first else ",") + ",".join(encoded)
            first = False
    yield "]}"


def _json_value(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime):
        return utc(value).isoformat()
    return value


def to_parquet(columns: Sequence[str], rows: Sequence[Sequence]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pydict({c: [r[i] for r in rows] for i, c in enumerate(columns)})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


class _Drain(io.RawIOBase):
    """A write-only file that hands over what was written since the last :meth:`take`, and keeps counting
    positions (Parquet's footer records each row group's offset)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._pos = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def take(self) -> bytes:
        out, self._parts = b"".join(self._parts), []
        return out


def parquet_chunks(columns: Sequence[str], types: Sequence[type], chunks: Iterable[Sequence[Sequence]]
                   ) -> Iterator[bytes]:
    """A Parquet file as pieces, one row group per chunk of rows, the footer last. ``types`` are the columns'
    Python types (the store's schema: int, float, bool, str, datetime): the schema is fixed before the first row,
    so a chunk whose column happens to be all null cannot change it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow = {int: pa.int64(), float: pa.float64(), bool: pa.bool_(), str: pa.string(),
             datetime: pa.timestamp("us", tz="UTC")}
    schema = pa.schema([(c, arrow[t]) for c, t in zip(columns, types, strict=True)])
    sink = _Drain()
    with pq.ParquetWriter(sink, schema) as writer:
        for rows in chunks:
            writer.write_table(pa.Table.from_pylist([dict(zip(columns, r, strict=True)) for r in rows], schema=schema))
            yield sink.take()
    yield sink.take()


def leaderboard_table(rows: Sequence[LeaderboardRow], students: Sequence[str]) -> tuple[list[str], list[list]]:
    """One flat row per verifier release: the leaderboard as a spreadsheet sees it (fractions, not percents).

    A student's post and delta are means over its training seeds; delta_ci_* cover test items and seeds. The
    per-student training-seed columns (``S:seeds``, ``S:seed_sd``), then ``kind`` and ``auroc``, come after every
    other column, so the columns of earlier exports keep their positions. Each seed's own result: the submission's seeds
    download."""
    columns = ["rank", "submission_id", "name", "family", "release", "backend", "model", "parameters", "simulated",
               "protocol_version", "protocol_digest", "rubric_accuracy", "rubric_ci_low", "rubric_ci_high", "n",
               "parse_failure_rate", "gated_direction", "usd_per_1k", "gpu_hours_per_1k", "pareto",
               "silent_regression"]
    for s in students:
        columns += [f"{s}:gate", f"{s}:baseline", f"{s}:post", f"{s}:delta", f"{s}:delta_ci_low",
                    f"{s}:delta_ci_high", f"{s}:mcnemar_p", f"{s}:n", f"{s}:silent_regression"]
    for s in students:
        columns += [f"{s}:seeds", f"{s}:seed_sd"]
    columns += ["kind", "auroc"]
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
        line += [r.kind, r.auroc]
        out.append(line)
    return columns, out
