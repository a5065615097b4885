"""The ``local`` executor: the protocol in the worker's own process (one GPU host, or the CPU demo)."""

from __future__ import annotations

from typing import Any

from harness.executors import Executor, ExecutorOutcome, register_executor
from harness.settings import Settings


def run_in_process(manifest: dict[str, Any], protocol: dict[str, Any], settings: Settings) -> ExecutorOutcome:
    from harness.protocol import ProtocolConfig
    from harness.results import item_rows
    from harness.runner import run_protocol
    from harness.submission import parse_manifest

    result = run_protocol(parse_manifest(manifest), ProtocolConfig.model_validate(protocol), settings)
    return ExecutorOutcome(document=result.model_dump(mode="json"), items=item_rows(result))


@register_executor
class LocalExecutor(Executor):
    name = "local"

    def run(self, manifest: dict[str, Any], protocol: dict[str, Any], settings: Settings) -> ExecutorOutcome:
        return run_in_process(manifest, protocol, settings)
