"""The layers hold: the web and a manifest's validation load no ML stack, tasks load no model, store or stage, and
no module imports from a layer above its own (config <- tasks <- models <- verifiers <- stages <- runner <- cli;
store and leaderboard beside, the leaderboard reading only the store and the configuration)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ML = ("torch", "transformers", "trl", "peft")


def _loaded_after(code: str, prefixes: tuple[str, ...]) -> list[str]:
    """Modules under ``prefixes`` loaded by running ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport sys\nprint(sorted(m for m in sys.modules if m.startswith({prefixes!r})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    return eval(out.stdout.strip().splitlines()[-1])  # a printed list of strings


def test_protocol_and_manifest_validation_import_no_ml_stack():
    code = ("import harness.config, harness.submission, harness.estimate, harness.admission\n"
            "harness.config.get_protocol('production').digest()")
    assert _loaded_after(code, ML) == []


def test_the_leaderboard_app_loads_no_ml_module():
    code = "import leaderboard.app\nleaderboard.app.create_app"
    assert _loaded_after(code, ML + ("harness.models", "harness.stages", "harness.verifiers")) == []


def test_the_leaderboard_reads_only_the_store_and_the_configuration():
    """Every harness module the leaderboard imports (inside functions too): the store (with the release comparison,
    computed from stored rows), the configuration and settings; and, for the one write path (POST /api/submissions,
    which queues a manifest after the same checks as `ladder submit`), the manifest schema and its admission."""
    reads = ("harness.store", "harness.config", "harness.settings")
    intake = {"harness.submission", "harness.admission"}
    seen = {}
    for path in (ROOT / "leaderboard").rglob("*.py"):
        for target in _imports(path):
            if target.startswith("harness"):
                seen.setdefault(target, set()).add(path.name)
    outside = {t: files for t, files in seen.items()
               if not t.startswith(reads) and not (t in intake and files == {"api.py"})}
    assert outside == {}
    assert "harness.store.compare" in seen, "the comparison is read from the store"


def test_the_result_documents_and_the_store_load_no_ml_stack_model_stage_or_verifier():
    """The worker parses a document another process wrote, and the store ingests it, without the ML stack."""
    above = ML + ("harness.models", "harness.stages", "harness.verifiers")
    code = "import harness.documents\nharness.documents.RunResult.model_validate"
    assert _loaded_after(code, above + ("harness.store",)) == []
    assert _loaded_after("import harness.store.ingest, harness.store.queue, harness.executors.base", above) == []


def test_tasks_load_no_model_store_or_stage():
    assert _loaded_after("import harness.tasks", ("harness.models", "harness.store", "harness.stages")) == []


def test_the_configuration_layer_imports_nothing_of_the_harness_but_itself():
    code = "import harness.config"
    assert _loaded_after(code, ("harness.",)) == sorted(
        f"harness.config{suffix}" for suffix in ("", ".base", ".models", ".protocol", ".stages"))


LAYERS = ("harness.config", "harness.tasks", "harness.models", "harness.verifiers", "harness.stages")


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(path: Path) -> set[str]:
    """Every ``harness``/``leaderboard`` module a file imports, at module level or inside a function (not those
    under ``if TYPE_CHECKING:``, which never run)."""
    tree = ast.parse(path.read_text())
    typing_only = {id(sub) for node in ast.walk(tree)
                   if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                   for sub in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names if _is_module(f"{node.module}.{a.name}"))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m.startswith(("harness", "leaderboard"))}


def _layer(module: str) -> int | None:
    return next((i for i, pre in enumerate(LAYERS) if module == pre or module.startswith(pre + ".")), None)


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


# Imports up the layers still to be moved (each with its planned home); the test fails when one is fixed and still
# listed, so the list only shrinks.
KNOWN_UPWARD: set[tuple[str, str]] = set()


def test_no_import_runs_up_the_layers():
    """Imports inside functions count too: a lazy import up the layers is still a dependency on the layer above."""
    upward = set()
    for path in (ROOT / "harness").rglob("*.py"):
        if "migrations" in path.parts:
            continue
        here = _module(path)
        for target in _imports(path):
            mine, theirs = _layer(here), _layer(target)
            if mine is not None and theirs is not None and theirs > mine:
                upward.add((here, target))
            if here.startswith("harness.store") and theirs not in (None, 0):
                upward.add((here, target))  # the store knows no task, model, verifier or stage
    assert upward == KNOWN_UPWARD


def _graph() -> dict[str, set[str]]:
    graph = {}
    for path in (ROOT / "harness").rglob("*.py"):
        if "migrations" not in path.parts:
            graph[_module(path)] = {t for t in _imports(path) if t.startswith("harness")}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_circles():
    """A package's modules register in a registry module of their own, not in the package that imports them."""
    assert _cycles(_graph()) == []


def test_the_circle_check_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
