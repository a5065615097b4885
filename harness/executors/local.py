"""The ``local`` executor: the protocol in the worker's own process (one GPU host, or the CPU demo)."""

from __future__ import annotations

from typing import Any

from harness.executors.base import Executor, ExecutorOutcome, register_executor
from harness.settings import Settings


def run_in_process(manifest: dict[str, Any], protocol: dict[str, Any], settings: Settings) -> ExecutorOutcome:
    from harness.config import ProtocolConfig
    from harness.publish import public_document
    from harness.results import item_rows
    from harness.runner import run_protocol
    from harness.submission import parse_manifest

    result = run_protocol(parse_manifest(manifest), ProtocolConfig.model_validate(protocol), settings)
    # The item rows are read from the run's files here; the document goes to the store (and so to the public) with
    # its host paths made relative.
    return ExecutorOutcome(document=public_document(result.model_dump(mode="json"), settings), items=item_rows(result))


@register_executor
class LocalExecutor(Executor):
    name = "local"

    def run(self, manifest: dict[str, Any], protocol: dict[str, Any], settings: Settings) -> ExecutorOutcome:
        return run_in_process(manifest, protocol, settings)
