"""An endpoint verifier audited from an audit pack, side by side with the full audit (CPU, demo profile).

Builds the demo pack (or reuses --pack), starts a local OpenAI-compatible chat-completions server (the test suite's
scripted one, answering like a judge that knows the exact-match truth and errs on one request in 10), and runs
`ladder audit --pack` against it as a verifier team's CI would: wall time, judge requests, and the same metrics as
the full audit of the same endpoint (which first loads and samples the students). Prints the figures.

    .venv/bin/python bench/pack_audit.py [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fixtures.openai_server import FakeServer, oracle_judge  # noqa: E402


def ladder(args: list[str], env: dict) -> tuple[float, dict]:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "harness.cli", *args, "--json"], env=env, capture_output=True,
                         text=True, check=True)
    return time.perf_counter() - t0, json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="Data dir (default: a new temporary one; the "
                        "demo students are warmed up there first, about 2 minutes).")
    args = parser.parse_args()
    data = args.data_dir or Path(tempfile.mkdtemp(prefix="pack-bench-"))
    env = {**os.environ, "LADDER_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1",
           "LADDER_DATABASE_URL": f"sqlite:///{data / 'bench.db'}"}
    pack = data / "pack-demo"
    if not pack.exists():
        took, _ = ladder(["pack", "build", "--profile", "demo", "--out", str(pack)], env)
        print(f"pack build (students warmed up if needed, candidates sampled, baselines evaluated): {took:.1f} s")
    server = FakeServer(oracle_judge(wrong_one_in=10))  # right but on a tenth of the requests
    manifest = data / "endpoint-judge.yaml"
    manifest.write_text(yaml.safe_dump({
        "name": "bench-endpoint-judge", "family": "bench-endpoint-judge", "release": "1", "owner": "bench",
        "backend": "openai", "endpoint": {"base_url": server.base_url, "model": "judge", "concurrency": 16},
        "cost": {"kind": "none", "priced_on": "2026-12-03"}}))
    common = ["audit", str(manifest), "--task", "shapes", "--profile", "demo", "--allow-local-endpoints",
              "--no-store"]
    try:
        packed_s, packed = ladder([*common, "--pack", str(pack)], env)
        packed_hits = server.hits
        full_s, full = ladder(common, env)
        full_hits = server.hits - packed_hits
    finally:
        server.stop()
    same = all(packed[k] == full[k] for k in ("rubric_accuracy", "ci_low", "ci_high", "n", "gate", "metrics"))
    print(f"audit from the pack: {packed_s:.1f} s wall, {packed_hits} judge requests, "
          f"rubric accuracy {packed['rubric_accuracy']:.3f} (n={packed['n']})")
    print(f"full audit on the machine that built the pack (its cached candidates): {full_s:.1f} s wall, "
          f"{full_hits} judge requests")
    print(f"same metrics and gate: {same}")


if __name__ == "__main__":
    main()
