"""User mistakes and missing inputs end in one line that says what to do (exit 2), never a traceback."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from harness.cli import EXIT_BAD_INPUT, app

runner = CliRunner()


@pytest.fixture
def empty_data_dir(tmp_path, monkeypatch):
    """A fresh machine: nothing fetched, the hub unreachable (HF_HUB_OFFLINE, set for every test)."""
    monkeypatch.setenv("LADDER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("LADDER_HF_CACHE_DIR", str(tmp_path / "hf" / "datasets"))
    return tmp_path


def one_line_error(args: list[str]) -> str:
    res = runner.invoke(app, args)
    assert res.exit_code == EXIT_BAD_INPUT, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in res.output
    return " ".join(res.output.split())


def test_an_audit_of_a_task_never_fetched_names_ladder_fetch_and_the_demo(empty_data_dir):
    out = one_line_error(["audit", "submissions/demo/strong.yaml", "--task", "mathvista"])
    assert out.startswith("error:") and "ladder fetch" in out and "--profile demo" in out
    assert "AI4Math/MathVista" in out or "Qwen/" in out  # names what is missing


def test_a_run_with_a_local_copy_that_is_not_there_says_so(empty_data_dir):
    missing = empty_data_dir / "no-such-copy"
    out = one_line_error(["audit", "submissions/demo/strong.yaml", "--task", "mmmu", "--data", str(missing)])
    assert "ladder fetch" in out and ("no dataset at" in out or "Qwen/" in out)


@pytest.mark.parametrize(("args", "says"), [
    (["eval", "mathvsta", "--model", "some/model", "--revision", "main"], "mathvista"),  # did you mean
    (["eval", "shapes", "--model", "no/such-folder/here"], "neither a local model folder"),
    (["eval", "shapes", "--model", "../x", "--revision", "main"], "neither a local model folder"),
    (["eval", "shapes", "--model", "some/model", "--revision", "main", "--split", "tset"], "--split"),
    (["eval", "shapes", "--model", "Qwen/never-fetched", "--revision", "main"], "ladder fetch"),
    (["tiny", "qwen4_vl", "--out", "x"], "unknown family"),
    (["export-lm-eval", "x"], "ladder fetch"),  # production, the default of every command: datasets not fetched
    (["export-lm-eval", "x", "--profile", "prodution"], "unknown protocol profile"),
])
def test_eval_and_tiny_mistakes_exit_2_with_the_reason(empty_data_dir, args, says):
    assert says in one_line_error(args)


def test_tiny_refuses_to_write_into_a_folder_that_holds_something(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    assert "not empty" in one_line_error(["tiny", "qwen3_vl", "--out", str(tmp_path)])
    assert (tmp_path / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("command", ["audit", "run", "demo", "fetch", "status", "compare"])
def test_help_shows_boolean_options_as_flags(command):
    """`--json` is a flag: help must not advertise a value (`--json <bool>`), which the parser refuses."""
    res = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    lines = [line for line in res.output.splitlines() if "<bool>" in line]
    assert all("--help" in line for line in lines), lines


@pytest.mark.parametrize(("flags", "shown"), [([], False), (["-v"], True)])
def test_http_requests_are_logged_only_with_verbose(tmp_path, monkeypatch, flags, shown):
    """An endpoint audit makes thousands of requests: one INFO line each (httpx, openai) buries the progress."""
    import logging

    monkeypatch.setenv("LADDER_DATABASE_URL", f"sqlite:///{tmp_path / 'ladder.db'}")
    res = runner.invoke(app, [*flags, "status", "--json"])
    assert res.exit_code == 0, res.output
    for name in ("httpx", "openai"):
        assert logging.getLogger(name).isEnabledFor(logging.INFO) is shown
