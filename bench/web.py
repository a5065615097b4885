"""Leaderboard under load: 10,000 submissions x 3 tasks in PostgreSQL, `ladder serve`, and wrk on loopback.

Seeds a fresh PostgreSQL schema with N verifier releases, each one succeeded submission with audit and student
rows on every task (rows derived from synthetic result documents by the store's own ingest functions; per-item
rows and result documents are left out: no page measured here reads them). Then it starts `ladder serve`
(uvicorn) and drives it with wrk from a second process: the leaderboard page, the same page sorted by cost,
the JSON API (one page of 100 rows, and every row), and a static file from the same server as the baseline.
Prints requests/s, p50 and p99 latency, and each endpoint's throughput as a ratio of the static file's.

    .venv/bin/python bench/web.py                       # 10,000 x 3 tasks, 10 s per endpoint
    .venv/bin/python bench/web.py --submissions 1000 --duration 5

Needs wrk (apt-get install wrk) and PostgreSQL (LADDER_TEST_DATABASE_URL or --database-url).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TASKS = ("mathvista", "mmmu", "blink")
FAMILY_RELEASES = 50  # releases of the first family (its verifier page shows each with its comparison)


def _args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default=os.environ.get("LADDER_TEST_DATABASE_URL",
                                                             "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--submissions", type=int, default=10_000)
    ap.add_argument("--templates", type=int, default=60, help="Distinct synthetic documents the rows derive from.")
    ap.add_argument("--duration", type=int, default=10, help="Seconds of load per endpoint.")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1, help="wrk threads (the load generator's CPU share).")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes.")
    ap.add_argument("--keep", action="store_true", help="Keep the seeded schema.")
    ap.add_argument("--json", action="store_true", help="Print one JSON object (every endpoint's req/s, p50, p99 and "
                    "their ratios to the static file's) and nothing else.")
    return ap.parse_args()


def _schema_url(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


def seed(url: str, n: int, templates: int) -> float:
    """Insert n releases x 3 tasks; returns seconds taken."""
    from rich.console import Console
    from rich.progress import track
    from sqlalchemy import insert

    from harness.documents import RunResult
    from harness.store import connect, session_scope
    from harness.store.ingest import audit_row, student_row
    from harness.store.queue import model_label
    from harness.store.schema import AuditRow, Family, Release, StudentRow, Submission
    from tests.fixtures.results import manifest, synthetic_run

    err = Console(stderr=True)  # progress on stderr: stdout holds only the results (one JSON object with --json)
    t0 = time.perf_counter()
    docs = []
    for i in track(range(templates), description="synthetic documents", console=err):
        acc = {t: 0.15 + 0.8 * ((i * 37 + 11 * k) % templates) / templates for k, t in enumerate(TASKS)}
        doc = synthetic_run(manifest(f"template-{i}"), acc, items=30, k=4, test=200, resamples=100)[0]
        docs.append(RunResult.model_validate(doc))
    engine = connect(url)
    batch = 1000
    for start in track(range(0, n, batch), description="inserting", console=err):
        with session_scope(engine) as s:
            rows = range(start, min(n, start + batch))
            # the first FAMILY_RELEASES releases are one family's (release 1, 2, ...): its verifier page lists them all
            fams = [{"id": i + 1, "name": f"family-{i:05d}"} for i in rows if i == 0 or i >= FAMILY_RELEASES]
            s.execute(insert(Family), fams)
            rels, subs, audits, students = [], [], [], []
            for i in rows:
                usd = round(0.5 + (i * 7919 % 1000) / 200, 3)
                family, release = (0, str(i + 1)) if i < FAMILY_RELEASES else (i, "1")
                m = manifest(f"verifier-{family:05d}", release=release, family=f"family-{family:05d}",
                             usd_per_gpu_hour=usd, parameters=(2 + i % 7) * 10**9).model_dump(mode="json")
                rels.append({"id": i + 1, "family_id": family + 1, "release": release, "name": m["name"],
                             "backend": "hf",
                             "model": model_label(m), "parameters": m["parameters"], "simulated": False})
                subs.append({"id": i + 1, "release_id": i + 1, "manifest": m, "manifest_hash": f"{i:064d}",
                             "protocol_version": "1", "protocol_profile": "production", "protocol_digest": "f" * 64,
                             "protocol": {}, "status": "succeeded", "attempts": 1, "max_attempts": 3})
                doc = docs[i % templates]
                for task in doc.tasks:
                    row = audit_row(i + 1, task.task, task.audit)
                    scale = usd / 2.5  # the template was priced at $2.5/GPU-hour
                    row["usd_per_1k"] = row["usd_per_1k"] * scale
                    row["cost_usd"] = row["cost_usd"] * scale
                    audits.append(row)
                    students += [student_row(i + 1, task.task, st) for st in task.students]
            for table, values in ((Release, rels), (Submission, subs), (AuditRow, audits), (StudentRow, students)):
                s.execute(insert(table), values)
    with engine.begin() as conn:  # keep the sequences past the explicit ids
        for table in ("families", "releases", "submissions"):
            conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {n})")
        conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - t0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=300) as r:
        size = len(r.read())
    return time.perf_counter() - t0, size


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def _ms(text: str) -> float:
    num, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(num) * _UNITS[unit]


def wrk(url: str, duration: int, connections: int, threads: int) -> dict:
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout",
                          "30s", url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "non_2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": socket_errors.group(1) if socket_errors else ""}


ENDPOINTS = {
    "static file (baseline)": "/static/style.css",
    "leaderboard page": "/?task=mathvista",
    "leaderboard page, sorted by cost": "/?task=mmmu&sort=cost&dir=asc",
    "JSON API, 100 rows": "/api/leaderboard?task=blink",
    "JSON API, every row": "/api/leaderboard?task=blink&limit=0",
    f"verifier page, family of {FAMILY_RELEASES} releases": f"/submissions/{FAMILY_RELEASES}",
}


def _wait_healthy(base: str) -> None:
    """Wait (up to about a minute) for the server to answer /healthz."""
    for _ in range(240):
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.25)


def main() -> None:
    args = _args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")
    from sqlalchemy import create_engine

    from harness.store import migrate

    schema = f"bench_web_{os.getpid()}"
    admin = create_engine(args.database_url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = _schema_url(args.database_url, schema)
    proc = None
    try:
        migrate(url)
        seconds = seed(url, args.submissions, args.templates)
        say = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
        say(f"seeded {args.submissions} submissions x {len(TASKS)} tasks in {seconds:.1f} s")
        port = _free_port()
        env = {**os.environ, "LADDER_DATABASE_URL": url, "LADDER_DATA_DIR": f"/tmp/{schema}"}
        proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "serve", "--port", str(port), "--workers",
                                 str(args.workers)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base)
        cold, size = _get(f"{base}/?task=mathvista")
        say(f"first leaderboard page (computes and caches all three tasks' rankings): {cold * 1000:.0f} ms, "
            f"{size / 1024:.0f} KiB")
        results = {}
        for name, path in ENDPOINTS.items():
            for _ in range(4 * args.workers):  # warm every worker's cache (the kernel spreads connections)
                _get(base + path)
            _, size = _get(base + path)
            results[name] = {**wrk(base + path, args.duration, args.connections, args.threads), "bytes": size}
        static = results["static file (baseline)"]
        for r in results.values():
            r["rps_vs_static"] = r["rps"] / static["rps"]
            r["p99_vs_static"] = r["p99_ms"] / static["p99_ms"] if static["p99_ms"] else None
        summary = {"submissions": args.submissions, "tasks": len(TASKS), "workers": args.workers,
                   "connections": args.connections, "duration_s": args.duration, "wrk_threads": args.threads,
                   "cpus": os.cpu_count(), "seed_seconds": seconds, "cold_ms": cold * 1000, "results": results}
        if args.json:
            print(json.dumps(summary, allow_nan=False))
            return
        print(f"\n{args.connections} connections, {args.duration} s each, {args.workers} server worker(s), "
              f"wrk {args.threads} thread(s), {os.cpu_count()}-core machine\n")
        print(f"{'endpoint':44} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'rps/static':>10} {'p99/static':>10} "
              f"{'KiB':>7} errors")
        for name, r in results.items():
            print(f"{name:44} {r['rps']:9.1f} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} {r['rps_vs_static']:10.3f} "
                  f"{r['p99_vs_static'] or 0:10.2f} {r['bytes'] / 1024:7.0f} {r['non_2xx']} {r['socket_errors']}")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        if not args.keep:
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
