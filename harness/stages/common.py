"""What several stages and the runner share: the protocol's splits of a task, the rubric renderers, a student's
identity in artifact keys and its cached baseline's path, and loading a student only when a cache misses."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from harness.artifacts import cache_key
from harness.config import ModelRef, ProtocolConfig
from harness.models.loading import load_vlm
from harness.rubric_template import RubricRenderer, render_in_process
from harness.settings import Settings
from harness.submission import Manifest
from harness.tasks import Item, Task


def render_rubric(template: str) -> Callable[[str, str], str]:
    """A renderer for the protocol's own rubric template: sandboxed and limited, no HTML escaping, in process."""
    return render_in_process(template)


@contextmanager
def submission_rubric(manifest: Manifest, protocol: ProtocolConfig) -> Iterator[Callable[[str, str], str]]:
    """The rubric renderer of a submission: its own template in a limited child process (a template from a
    submitter may raise, loop or grow without end: :mod:`harness.rubric_template`), else the protocol's."""
    if manifest.rubric_template is None:
        yield render_rubric(protocol.rubric_template)
        return
    with RubricRenderer(manifest.rubric_template) as render:
        yield render


def protocol_splits(task: Task, items: Sequence[Item], protocol: ProtocolConfig) -> dict[str, list[Item]]:
    """The task's audit (cut to the protocol's audit size), train and test items under the protocol's split, each cut
    to the protocol's item limit (``--limit``) when it has one."""
    split = task.splits([it.id for it in items], seed=protocol.split_seed)
    by_id = {it.id: it for it in items}
    split["audit"] = split["audit"][:protocol.audit.size]
    return {name: [by_id[i] for i in ids[:protocol.item_limit]] for name, ids in split.items()}


def student_ident(name: str, ref: ModelRef, settings: Settings) -> dict:
    """A student's identity in artifact keys: its name and source, a folder under the data directory named relative
    to it, so that an artifact made by one worker serves every other, the docker executor's containers (whose data
    directory is /data) included."""
    ident = {"name": name, **ref.describe()}
    if ref.path is not None and Path(ref.path).resolve().is_relative_to(settings.data_dir.resolve()):
        ident["path"] = str(Path(ref.path).resolve().relative_to(settings.data_dir.resolve()))
    return ident


def baseline_path(settings: Settings, ident: dict, task: str, protocol: ProtocolConfig) -> Path:
    """Where a student's frozen test-split evaluation is cached (shared by every submission; the read-only shared
    store's copy when there is one, see :meth:`Settings.cached`)."""
    key = cache_key(student=ident, task=task, split="test", protocol=protocol.digest())
    return settings.cached(settings.artifacts / "baselines" / f"{task}-{key}.json")


class LazyStudent:
    """Load a student only if some cache misses, and at most once."""

    def __init__(self, ref: ModelRef) -> None:
        self.ref, self.loaded = ref, None

    def __call__(self):
        if self.loaded is None:
            from harness.models.loading import pick_device

            self.loaded = load_vlm(self.ref, device=pick_device(), dtype="float32")
        return self.loaded
