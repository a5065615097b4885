"""The loader on a machine without torchvision: a published checkpoint's stock processor is refused with a message
that names the missing package, instead of transformers' import error deep in AutoProcessor."""

from __future__ import annotations

import importlib.util

import pytest

from harness.config import ModelRef
from harness.errors import MissingDependency, MissingInput
from harness.models.loading import load_processor
from tests.fixtures.checkpoints import write_real_layout


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("torchvision") is not None,
                    reason="torchvision is installed: the stock processors load (tests/models/test_real_layout.py)")
def test_a_stock_processor_without_torchvision_names_the_missing_package(tmp_path):
    folder = write_real_layout("Qwen/Qwen3-VL-2B-Instruct", tmp_path / "checkpoint")
    with pytest.raises(MissingDependency, match="needs torchvision") as err:
        load_processor(ModelRef(path=folder))
    assert isinstance(err.value, MissingInput)  # the CLI shows it as one line, exit 2
