"""The ``ray`` executor: each submission's protocol runs as a Ray task that requests the protocol's GPUs.

Point ``LADDER_RAY_ADDRESS`` at a cluster (``auto`` inside one, ``ray://host:10001`` from outside) and run
one ``ladder worker --executor ray`` per submission you want in flight: Ray places each task on a node with
a free GPU, so N GPU nodes run N submissions at once. The task returns the outcome (document and per-item
rows) to the worker, which lands it in the store as for any executor; the data directory (stage files for
resume, shared artifacts) must be shared storage mounted at the same path on every node.

Ray is imported only when a task runs (`pip install ray`; it is not needed for the other executors).
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from harness import cancel
from harness.executors.base import Executor, ExecutorError, ExecutorOutcome, register_executor
from harness.settings import Settings

logger = logging.getLogger(__name__)


class RaySettings(BaseSettings):
    """How protocol tasks are placed on a Ray cluster (prefix ``LADDER_RAY_``)."""

    model_config = SettingsConfigDict(env_prefix="LADDER_RAY_", extra="ignore")

    address: str | None = Field(default=None, description="Cluster address; unset: start a local Ray instance.")
    gpus: float = Field(default=1, ge=0, description="GPUs each submission's task requests.")
    cpus: float = Field(default=1, gt=0, description="CPUs each submission's task requests.")
    max_retries: int = Field(default=0, ge=0, description="Ray-level retries (the queue's lease already retries).")


def _run_protocol_task(manifest: dict[str, Any], protocol: dict[str, Any], settings_json: str) -> dict[str, Any]:
    """Body of the Ray task (runs on the chosen node)."""
    from harness.executors.local import run_in_process

    outcome = run_in_process(manifest, protocol, Settings.model_validate_json(settings_json))
    return {"document": outcome.document, "items": outcome.items}


@register_executor
class RayExecutor(Executor):
    name = "ray"

    def __init__(self, cfg: RaySettings | None = None) -> None:
        self.cfg = cfg or RaySettings()

    def run(self, manifest: dict[str, Any], protocol: dict[str, Any], settings: Settings) -> ExecutorOutcome:
        import ray
        from ray.exceptions import RayError

        if not ray.is_initialized():
            ray.init(address=self.cfg.address, include_dashboard=False, log_to_driver=False)
        task = ray.remote(num_gpus=self.cfg.gpus, num_cpus=self.cfg.cpus, max_retries=self.cfg.max_retries)(
            _run_protocol_task)
        ref = task.remote(manifest, protocol, settings.model_dump_json())
        try:
            while not ray.wait([ref], timeout=0.5)[0]:
                if cancel.cancelled():  # the job was cancelled or taken over: stop its task on the cluster
                    ray.cancel(ref, force=True)
                    cancel.check()
            data = ray.get(ref)
        except RayError as err:
            raise ExecutorError(f"ray task failed: {type(err).__name__}: {str(err).splitlines()[0]}") from None
        return ExecutorOutcome(document=data["document"], items=data["items"])
