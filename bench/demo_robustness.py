"""The demo ladder under several CPU numerics variants: does every finding hold in every one?

The tiny students' training is sensitive to floating point: another kernel family (``ATEN_CPU_CAPABILITY``) or
another thread count changes every sum's rounding, hence every sampled candidate after the first difference, hence
the whole trajectory. A known-answer demo must not depend on that. Each variant runs `ladder demo --json` from
scratch in its own data directory (fresh warm-up, audits, every seed run) with the variant's environment, and the
script prints one matrix: each finding per variant, the per-student seed-mean deltas, and the wall time.

    .venv/bin/python bench/demo_robustness.py [--variants native-1t,native-2t,avx2,default] [--out DIR]

Variants (all on this machine; ``jobs`` is how many seed runs train side by side):

- ``native-1t``: the kernels torch picks for this CPU, one thread per run, two runs at a time (what `make demo`
  does on a 2-core machine);
- ``native-2t``: the same kernels, two threads per run, one run at a time (other reductions, other rounding);
- ``avx2``: ``ATEN_CPU_CAPABILITY=avx2`` (an AVX2-only machine's vector kernels), one thread per run;
- ``default``: ``ATEN_CPU_CAPABILITY=default`` (no vectorisation), one thread per run;
- ``avx512``: ``ATEN_CPU_CAPABILITY=avx512`` where the CPU has it.
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

VARIANTS = {
    "native-1t": ({"OMP_NUM_THREADS": "1"}, 2),
    "native-2t": ({"OMP_NUM_THREADS": "2"}, 1),
    "avx2": ({"ATEN_CPU_CAPABILITY": "avx2", "OMP_NUM_THREADS": "1"}, 2),
    "default": ({"ATEN_CPU_CAPABILITY": "default", "OMP_NUM_THREADS": "1"}, 2),
    "avx512": ({"ATEN_CPU_CAPABILITY": "avx512", "OMP_NUM_THREADS": "1"}, 2),
}
SHORT = {  # finding name prefix -> column label
    "above-threshold": "helps",
    "sub-threshold": "silent regression",
    "confidence inversion": "inversion",
    "the audit's gated": "sign predicted",
}


def capability(env: dict[str, str]) -> str:
    code = "import torch; print(torch.backends.cpu.get_cpu_capability())"
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True)
    return out.stdout.strip() or out.stderr.strip().splitlines()[-1]


def run_variant(name: str, out: Path, profile: str) -> dict:
    env, jobs = VARIANTS[name]
    data = out / name
    data.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **env, "LADDER_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1"}
    full_env.pop("LADDER_DATABASE_URL", None)  # each variant stores into its own SQLite file
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "demo", "--json", "--jobs", str(jobs),
                           "--profile", profile], env=full_env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    (out / f"{name}.stderr.log").write_text(proc.stderr)
    if proc.returncode != 0:
        return {"variant": name, "error": f"exit {proc.returncode}: {proc.stderr.strip()[-2000:]}", "wall": wall}
    doc = json.loads(proc.stdout)
    (out / f"{name}.json").write_text(json.dumps(doc, indent=1))
    return {"variant": name, "doc": doc, "wall": wall, "capability": capability(env), "env": env, "jobs": jobs}


def verifier_decides(doc: dict) -> bool:
    """What `tests/test_demo_ladder.py` asserts on every CPU: every training seed of a sub-threshold verifier
    regresses every student, confident-wrong's seed mean is below near-random's, and strong's beats
    confident-wrong's by more than 10 points on every student."""
    tasks = [t for r in doc["runs"] for t in r["tasks"].values()]
    by_name = {t["audit"]["verifier"]["name"]: t["students"] for t in tasks}
    strong, wrong, rand = by_name["demo-strong"], by_name["demo-confident-wrong"], by_name["demo-near-random"]
    try:
        below_seeds = all(d < 0 for s in [*wrong.values(), *rand.values()] for d in s["seed_deltas"])
        return below_seeds and all(wrong[s]["delta"] < rand[s]["delta"] < 0
                                   and strong[s]["delta"] - wrong[s]["delta"] > 0.10 for s in strong)
    except (TypeError, KeyError):  # a failed student has no delta
        return False


def _label(name: str) -> str:
    return next((v for k, v in SHORT.items() if name.startswith(k)), name[:20])


def report(rows: list[dict]) -> str:
    lines = []
    ok_all = True
    for r in rows:
        if "error" in r:
            lines.append(f"{r['variant']}: FAILED ({r['error']})")
            ok_all = False
            continue
        findings = [f for fs in r["doc"]["findings"].values() for f in fs]
        marks = ", ".join(f"{_label(f['name'])}: {'holds' if f['holds'] else 'FAILS'}" for f in findings)
        decides = verifier_decides(r["doc"])
        marks += f"; verifier decides the direction (asserted in the tests): {'holds' if decides else 'FAILS'}"
        ok_all &= all(f["holds"] for f in findings)
        lines.append(f"{r['variant']:<10} kernels {r['capability']:<8} {r['env']} jobs {r['jobs']}: "
                     f"{r['wall'] / 60:.1f} min; {marks}")
        for run in r["doc"]["runs"]:
            for task, t in run["tasks"].items():
                name = t["audit"]["verifier"]["name"]
                cells = []
                for student, s in t["students"].items():
                    if s["delta"] is None:
                        cells.append(f"{student} failed")
                        continue
                    seeds = " ".join(f"{100 * x:+.1f}" for x in s["seed_deltas"])
                    cells.append(f"{student} {100 * s['delta']:+.1f} [{100 * s['delta_ci_low']:+.1f}, "
                                 f"{100 * s['delta_ci_high']:+.1f}] (seeds {seeds})")
                lines.append(f"    {task} {name:<22} rubric {t['audit']['rubric_accuracy']:.3f}: " + "; ".join(cells))
    lines.append("every finding holds in every variant" if ok_all else "NOT every finding holds in every variant")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default="native-1t,native-2t,avx2,default",
                    help=f"Comma-separated, from {sorted(VARIANTS)}.")
    ap.add_argument("--profile", default="demo")
    ap.add_argument("--out", type=Path, default=None, help="Where each variant's data and JSON go (default: a "
                                                            "fresh temporary folder).")
    args = ap.parse_args()
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        ap.error(f"unknown variants {unknown}; known: {sorted(VARIANTS)}")
    out = args.out or Path(tempfile.mkdtemp(prefix="ladder-robustness-"))
    rows = []
    for name in names:
        print(f"running {name} ...", flush=True)
        rows.append(run_variant(name, out, args.profile))
        print(report(rows[-1:]), flush=True)
    print("\n" + report(rows))
    print(f"machine: {os.cpu_count()} CPUs; results in {out}")


if __name__ == "__main__":
    main()
