from __future__ import annotations

import pytest

from harness.registry import Registry, UnknownNameError
from harness.tasks import get_task, list_tasks


def test_list_tasks():
    assert list_tasks() == ["blink", "mathvista", "mmmu", "shapes"]


def test_unknown_task_suggests_the_close_name():
    with pytest.raises(UnknownNameError, match=r"Did you mean 'mathvista'\?") as err:
        get_task("mathvist")
    assert "Known: blink, mathvista, mmmu, shapes" in str(err.value)


def test_double_registration_is_an_error():
    reg: Registry[int] = Registry("thing")
    reg.register("a")(1)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a")(2)
