"""``--output DIR``: the files lm-eval users expect from a run, beside the tables.

- ``results.json``: the result document (``AuditResult`` for `ladder audit`, ``RunResult`` for `ladder run`),
  strict JSON; ``results.schema.json`` is its JSON Schema (pydantic's), so a consumer can validate it.
- ``samples_<task>.jsonl``: one line per judgment (student, item_id, candidate index, question, gold answer,
  the candidate's response and its parse, the rendered rubric prompt, the verifier's raw output, parsed score,
  verdict, exact-match truth, agreement, tokens), strict JSON per line; the columns are listed in
  :data:`SAMPLE_COLUMNS`.
"""

from __future__ import annotations

from pathlib import Path

from harness.artifacts import read_jsonl
from harness.cli.common import strict_json

SAMPLE_COLUMNS = ("student", "item_id", "candidate", "question", "gold", "response", "parsed", "prompt", "raw",
                  "backend_error", "score", "parse_error", "verdict", "truth", "agrees", "input_tokens",
                  "output_tokens", "simulated")


def write_outputs(out: Path, result, audits: dict[str, str]) -> list[Path]:
    """Write ``result`` (a pydantic document) and, per task in ``audits`` (task -> verdicts JSONL), its samples."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "results.json", out / "results.schema.json"]
    written[0].write_text(strict_json(result) + "\n")
    written[1].write_text(strict_json(type(result).model_json_schema()) + "\n")
    for task, verdicts in audits.items():
        path = out / f"samples_{task}.jsonl"
        rows = read_jsonl(Path(verdicts))
        path.write_text("".join(strict_json({k: r.get(k) for k in SAMPLE_COLUMNS}, indent=None) + "\n"
                                for r in rows))
        written.append(path)
    return written
