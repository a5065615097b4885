"""Time the whole demo ladder (4 simulated verifiers x 2 tiny students) through the full protocol.

Runs in a fresh data directory (so the students' warm-up is included) and prints the wall time
of every stage and the total, against the target of at most 15 minutes on a 2-core CPU machine.

    .venv/bin/python bench/demo_ladder.py [--data-dir DIR] [--ladder submissions/demo] [--jobs N]

Like `make demo`, the students warm up side by side and the training seeds run ``--jobs`` at a time (default: one
per CPU core); a student's wall time is its seed runs' (overlapping) span, so the rows overlap.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

TARGET_S = 15 * 60


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=None, help="Data directory (default: a fresh temporary one).")
    ap.add_argument("--ladder", type=Path, default=Path("submissions/demo"))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="Seed runs at once.")
    args = ap.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="ladder-bench-"))
    os.environ["LADDER_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from harness.cli import print_findings, print_run_table
    from harness.config import get_protocol
    from harness.runner import run_protocol
    from harness.settings import get_settings
    from harness.stages.students import resolve_students
    from harness.submission import load_manifest

    settings, protocol = get_settings(), get_protocol("demo")
    rows: list[tuple[str, float]] = []
    start = time.perf_counter()
    t0 = time.perf_counter()
    resolve_students(protocol.students, settings.data_dir, protocol.split_seed, jobs=args.jobs)
    rows.append(("warm-up (both students)", time.perf_counter() - t0))
    results = []
    for path in sorted(args.ladder.glob("*.yaml")):
        t0 = time.perf_counter()
        result = run_protocol(load_manifest(path), protocol, settings, jobs=args.jobs)
        total = time.perf_counter() - t0
        results.append(result)
        for task in result.tasks:
            stage = total - sum(s.wall_seconds for s in task.students)
            rows.append((f"{path.stem}: audit {task.task} (incl. candidates, baselines)", stage))
            rows += [(f"{path.stem}: self-DPO + eval {s.student}", s.wall_seconds) for s in task.students]
    elapsed = time.perf_counter() - start
    print_run_table(results)
    print_findings(results)
    width = max(len(name) for name, _ in rows)
    print(f"\n{'stage':<{width}}  wall s")
    for name, secs in rows:
        print(f"{name:<{width}}  {secs:7.1f}")
    print(f"{'total':<{width}}  {elapsed:7.1f}  (target <= {TARGET_S} s: {'met' if elapsed <= TARGET_S else 'MISSED'})")
    print(f"machine: {os.cpu_count()} CPUs; data dir {data_dir}")


if __name__ == "__main__":
    main()
