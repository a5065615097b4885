"""Audit packs (:mod:`harness.packs`): `ladder pack build` and `ladder pack verify`; `ladder audit --pack` reads one."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from harness.cli.common import (
    DataOpt,
    JsonFlag,
    ProfileOpt,
    TasksOpt,
    app,
    bad_input,
    console,
    echo_json,
    split_names,
    with_progress,
)
from harness.config.stages import HUB_PACK_PATTERN

pack_app = typer.Typer(help="Audit packs: the frozen students' audit candidates and baselines, shareable.",
                       no_args_is_help=True)
app.add_typer(pack_app, name="pack", rich_help_panel="Protocol runs on this machine")

HUB_PACK = re.compile(HUB_PACK_PATTERN)


def open_pack(spec: str):
    """The verified pack at a local folder or a hub dataset 'owner/name@revision' (cached by `ladder fetch`, or
    downloaded now when the network is on); exit 2 with the reason when it is missing or fails verification."""
    from harness.errors import MissingInput
    from harness.packs import PackError, verify

    try:
        if Path(spec).is_dir() or not HUB_PACK.match(spec):
            return verify(Path(spec))
        return verify(_hub_snapshot(spec))
    except (MissingInput, PackError) as err:
        bad_input(f"audit pack {spec}: {err}")


def _hub_snapshot(spec: str) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    from harness.errors import FETCH_HINT, MissingInput

    repo, _, revision = spec.partition("@")
    try:
        return Path(snapshot_download(repo, revision=revision, repo_type="dataset"))
    except (LocalEntryNotFoundError, OSError) as err:
        raise MissingInput(f"the pack {spec} is not on this machine and could not be downloaded "
                           f"({type(err).__name__}); {FETCH_HINT}") from err




@pack_app.command("build")
def build_cmd(
    out: Annotated[Path, typer.Option(help="New folder to write the pack to.")],
    profile: ProfileOpt = "production",
    tasks: TasksOpt = None,
    embed_images: Annotated[bool, typer.Option("--embed-images", help="Copy the audit items' images and texts into "
                                               "the pack, so that auditing from it needs no dataset.",
                                               metavar="")] = False,
    name: Annotated[str | None, typer.Option(help="The pack's name (default audit-pack-<profile>).")] = None,
    data: DataOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Sample the frozen students' audit candidates (or reuse this machine's cache) and write them, with the
    baselines, as an audit pack in the hub's dataset layout. Needs the students (a GPU for production)."""
    from harness.config import get_protocol
    from harness.packs import PackError
    from harness.registry import UnknownNameError
    from harness.settings import get_settings
    from harness.stages.pack import build_pack
    from harness.tasks import chosen_tasks

    try:
        protocol = get_protocol(profile)
        names = chosen_tasks(protocol, split_names(tasks))
        pack = with_progress(as_json, lambda progress: build_pack(protocol, get_settings(), out, names, embed_images,
                                                                  data, name, progress),
                             "nothing was written; the sampled candidates are cached, run again to go on.")
    except (ValueError, PackError) as err:
        bad_input(str(err))
    except UnknownNameError as err:
        bad_input(str(err).splitlines()[0].strip("'\""))
    _report(pack, as_json, "written")


@pack_app.command("verify")
def verify_cmd(path: Annotated[str, typer.Argument(help="The pack's folder, or a hub dataset owner/name@revision.")],
               as_json: JsonFlag = False) -> None:
    """Check a pack's checksums, schema and row counts (exit 2 naming the first problem)."""
    _report(open_pack(path), as_json, "verified")


def _report(pack, as_json: bool, what: str) -> None:
    info = pack.info
    if as_json:
        echo_json({"path": str(pack.root), "name": info.name, "digest": pack.digest,
                   "protocol_profile": info.protocol_profile, "protocol_digest": info.protocol_digest,
                   "tasks": {t: m.model_dump() for t, m in info.tasks.items()}, "students": list(info.students),
                   "embedded_images": info.embedded_images})
        return
    tasks = ", ".join(f"{t} ({m.items} items, {m.candidates} candidates)" for t, m in info.tasks.items())
    console.print(f"pack {info.name} {what}: {pack.root}\n  digest {pack.digest}\n  protocol "
                  f"{info.protocol_profile} {info.protocol_digest}; {tasks}", highlight=False)
