"""What reproduces a result: versions, revisions, seeds, hardware, config hashes."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

import harness

PACKAGES = ("torch", "transformers", "trl", "peft", "datasets", "accelerate", "tokenizers", "pydantic", "vllm",
            "openai")


class Provenance(BaseModel):
    protocol_version: str
    protocol_profile: str
    protocol_digest: str
    harness_version: str = harness.__version__
    git_commit: str | None = None
    packages: dict[str, str] = Field(default_factory=dict)
    models: dict[str, Any] = Field(default_factory=dict, description="Role -> where the model came from.")
    datasets: dict[str, Any] = Field(default_factory=dict, description="Task -> source and revision.")
    seeds: dict[str, int] = Field(default_factory=dict)
    # Absent (not empty) in results stored before it existed, so they stay byte for byte what they were.
    generation: dict[str, Any] = Field(default_factory=dict, exclude_if=lambda v: not v, description="Student -> "
                                       "its checkpoint's generation_config.json defaults, what the protocol overrides "
                                       "and the effective decoding settings of each use "
                                       "(harness.models.generate.student_generation).")
    hardware: dict[str, Any] = Field(default_factory=dict)
    config_digest: str | None = Field(default=None, description="Hash of manifest + protocol.")
    # exclude_if (pydantic 2.12+): a whole result's document stays byte for byte what it was before --limit existed.
    item_limit: int | None = Field(default=None, exclude_if=lambda v: v is None, description="Set on a partial "
                                   "result: only the first N items of each split were used (`--limit N`); absent "
                                   "from a whole one.")
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def git_commit() -> str | None:
    """The commit of the harness checkout, or None outside a git checkout (e.g. an installed wheel)."""
    root = Path(harness.__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return os.environ.get("LADDER_GIT_COMMIT")
    return out.stdout.strip() or None


def cpu_model() -> str | None:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), or None where it cannot be read."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip() or None
    except OSError:
        pass
    return platform.processor() or None


def hardware() -> dict[str, Any]:
    """What the numbers were computed on, as far as it can change them: OS family, architecture, CPU and GPU models,
    thread counts, Python. Published with every result, so it names no host and no kernel release (the kernel
    string identifies a host's patch level and does not change the numbers)."""
    info: dict[str, Any] = {"system": platform.system(), "machine": platform.machine(), "cpu": cpu_model(),
                            "python": platform.python_version(), "cpu_count": os.cpu_count()}
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
            info["gpu_count"] = torch.cuda.device_count()
    except ImportError:
        pass
    return info
