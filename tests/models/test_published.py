"""The published checkpoint files kept in the repository: each is what sources.json says it is."""

from __future__ import annotations

import hashlib
import json

import pytest

from harness.models import published


def git_blob(data: bytes) -> str:
    """``git hash-object``: what sources.json records and what the hub reports as a small file's ETag."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


FILES = [(m, f) for m in published.models() for f in published.sources()["models"][m]["files"]]


@pytest.mark.parametrize(("hub_id", "filename"), FILES, ids=[f"{m.split('/')[1]}:{f}" for m, f in FILES])
def test_every_listed_file_is_kept_and_verbatim_ones_are_byte_identical(hub_id, filename):
    source = published.file_source(hub_id, filename)
    path = published.published_path(hub_id, filename)
    assert path is not None and path.is_file()
    json.loads(path.read_text())  # every kept file is JSON
    if source["status"] == "verbatim":
        assert git_blob(path.read_bytes()) == source["blob"]
        assert path.parent.name == published.folder_name(hub_id)
    else:
        assert source["status"] in ("sibling", "derived") and source["from"] in published.models()
        if source["status"] == "sibling":
            assert path.parent.name == published.folder_name(source["from"])


def test_siblings_share_the_files_the_family_shares():
    # the Qwen3-VL 4B and 8B checkpoints publish one tokenizer, processor and generation config (same blobs), and
    # the same chat template text (the two chat_template.json files differ only in trailing whitespace)
    for name in ("tokenizer_config.json", "preprocessor_config.json", "video_preprocessor_config.json",
                 "generation_config.json"):
        assert (published.published_path("Qwen/Qwen3-VL-4B-Instruct", name).read_bytes()
                == published.published_path("Qwen/Qwen3-VL-8B-Instruct", name).read_bytes()), name
    templates = {published.published_json(m, "chat_template.json")["chat_template"]
                 for m in ("Qwen/Qwen3-VL-4B-Instruct", "Qwen/Qwen3-VL-8B-Instruct")}
    assert len(templates) == 1
    tokenizer = published.published_json("Qwen/Qwen3-VL-8B-Instruct", "tokenizer_config.json")
    assert templates == {tokenizer["chat_template"]}


def test_an_unknown_model_names_the_kept_ones():
    with pytest.raises(KeyError, match="Qwen/Qwen3-VL-2B-Instruct"):
        published.checkpoint_files("someone/else")
    assert published.published_path("someone/else", "config.json") is None
