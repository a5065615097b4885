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
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fixtures.openai_server import FakeServer, completion  # noqa: E402

RUBRIC = re.compile(r"Question:\n(?P<question>.*)\n\nStudent's answer:\n(?P<answer>.*)\n\nIs the student", re.S)


def judge():
    """A judge that finds each request's item by its question and image, knows the exact-match truth and says the
    opposite on a tenth of the requests (chosen by a hash of the request, so two audits get the same answers)."""
    import base64
    import hashlib
    import io

    from PIL import Image

    from harness.tasks import get_task

    task = get_task("shapes")
    items = {(it.prompt, it.images[0].convert("RGB").tobytes()): it for it in task.items()}

    def reply(n, body, headers, server):
        parts = body["messages"][0]["content"]
        text = next(p["text"] for p in parts if p["type"] == "text")
        url = next(p["image_url"]["url"] for p in parts if p["type"] == "image_url")
        pixels = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB").tobytes()
        m = RUBRIC.search(text)
        right = task.score_item(m["answer"], items[m["question"], pixels]).correct
        if hashlib.sha256((text + url).encode()).digest()[0] % 10 == 0:
            right = not right
        return 200, {}, completion('{"score": %s}' % (0.9 if right else 0.1))

    return reply


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
    server = FakeServer(judge())
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
