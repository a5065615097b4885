"""Tiny-model generation alone and beside one busy process: OpenMP spin-waiting under contention (2 cores).

Run it with and without OMP_WAIT_POLICY=PASSIVE (the Makefile's test target sets it) and compare the figures:

    .venv/bin/python bench/omp_contention.py
    OMP_WAIT_POLICY=PASSIVE .venv/bin/python bench/omp_contention.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    import torch

    from harness.config import TinySpec
    from harness.models.generate import generate_batch
    from harness.models.tiny import build_tiny
    from harness.tasks import get_task

    model, processor = build_tiny(TinySpec(family="qwen3_vl"))
    items = get_task("shapes").items()[:64]

    def run() -> float:
        t0 = time.perf_counter()
        for start in range(0, len(items), 16):
            batch = items[start:start + 16]
            generate_batch(model, processor, [(it.images, it.prompt) for it in batch], max_new_tokens=4,
                           do_sample=False)
        return time.perf_counter() - t0

    run()  # warm
    print(f"torch threads {torch.get_num_threads()}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    print(f"64 items alone: {run():.2f} s")
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        print(f"64 items beside one busy process: {run():.2f} s")
    finally:
        hog.kill()


if __name__ == "__main__":
    main()
