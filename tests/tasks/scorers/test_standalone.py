"""The scorers package stands alone (standard library only), so an lm-eval export can carry it verbatim."""

from __future__ import annotations

import ast
import random
import sys
from pathlib import Path

from rapidfuzz.distance import Levenshtein

from harness.tasks import scorers
from harness.tasks.scorers.common import _edit_distance

PACKAGE = Path(scorers.__file__).parent
OPTIONAL = {"rapidfuzz"}  # imported for speed where installed; common.edit_distance has a fallback


def _imports(path: Path) -> list[tuple[str, int]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", node.level))
    return found


def test_scorers_import_only_the_standard_library_and_each_other():
    checked = 0
    for path in PACKAGE.glob("*.py"):
        for module, level in _imports(path):
            top = module.split(".")[0]
            assert level > 0 or top in sys.stdlib_module_names or top == "__future__" or top in OPTIONAL, (
                f"{path.name} imports {module!r}: the scorers must stay standard-library only "
                "(ladder export-lm-eval copies them to run without the harness)")
            checked += 1
    assert checked > 20


def test_the_fallback_edit_distance_equals_rapidfuzz():
    rng = random.Random(0)
    alphabet = "ab(c)) 1.5-\u00e9\u4e00"
    for _ in range(2000):
        a = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 14)))
        b = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 14)))
        assert _edit_distance(a, b) == Levenshtein.distance(a, b), (a, b)
    assert _edit_distance("kitten", "sitting") == 3
