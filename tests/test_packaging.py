"""The web image installs only the `web` extra: it must match the main dependencies and be enough to serve."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

PYPROJECT = tomllib.loads(Path("pyproject.toml").read_text())


def test_web_extra_is_a_subset_of_the_dependencies_with_the_same_ranges():
    deps = set(PYPROJECT["project"]["dependencies"])
    web = PYPROJECT["project"]["optional-dependencies"]["web"]
    assert set(web) <= deps, sorted(set(web) - deps)


def _closure(requirements) -> set[str]:
    """Normalised names of the distributions ``requirements`` install (recursively)."""
    from importlib.metadata import PackageNotFoundError, requires

    from packaging.requirements import Requirement

    def norm(name):
        return name.lower().replace("_", "-").replace(".", "-")

    todo = [Requirement(r) for r in requirements]
    seen: set[str] = set()
    while todo:
        req = todo.pop()
        if norm(req.name) in seen:
            continue
        seen.add(norm(req.name))
        try:
            for sub in requires(req.name) or []:
                r = Requirement(sub)
                extras = req.extras or {""}
                if r.marker is None or any(r.marker.evaluate({"extra": e}) for e in extras):
                    todo.append(r)
        except PackageNotFoundError:
            pass
    return seen


# Imports of any installed distribution outside the web extra's closure fail, as they would in the web image.
BLOCK_OUTSIDE = """
import sys
from importlib.metadata import packages_distributions
ALLOWED = {allowed!r}
OWNERS = packages_distributions()
def norm(name):
    return name.lower().replace('_', '-').replace('.', '-')
class Block:
    def find_spec(self, name, path=None, target=None):
        top = name.split('.')[0]
        dists = OWNERS.get(top)
        if dists and top not in ('harness', 'leaderboard') and not any(norm(d) in ALLOWED for d in dists):
            raise ModuleNotFoundError('the web image has no ' + name + ' (from ' + ', '.join(dists) + ')')
sys.meta_path.insert(0, Block())
"""


def test_leaderboard_serves_and_accepts_submissions_without_the_ml_stack(tmp_path):
    """What the slim `web` image runs: migrate, serve pages and the API, validate and queue a manifest."""
    # httpx (and what it needs) only for the test's own client.
    allowed = _closure(PYPROJECT["project"]["optional-dependencies"]["web"]) | _closure(["httpx"])
    code = BLOCK_OUTSIDE.format(allowed=sorted(allowed | {"verifier-ladder"})) + f"""
from fastapi.testclient import TestClient
from harness.settings import Settings
from harness.store import connect, migrate
from harness.store.tokens import create_token
from leaderboard.app import create_app
url = 'sqlite:///{tmp_path}/l.db'
migrate(url)
engine = connect(url)
token = create_token(engine, 't')
c = TestClient(create_app(Settings(data_dir='{tmp_path}'), engine=engine))
assert c.get('/', headers={{'accept': 'text/html'}}).status_code == 200
manifest = {{'name': 'x', 'family': 'x', 'release': '1', 'backend': 'simulated', 'simulated': {{'agreement': 0.9}},
            'cost': {{'kind': 'none', 'priced_on': '2026-11-26'}}, 'owner': 'me'}}
r = c.post('/api/submissions?profile=demo', json=manifest, headers={{'authorization': 'Bearer ' + token}})
assert r.status_code == 201, r.text
from harness.cli import app  # the image's entry point imports too
print('ok')
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-3000:]


def test_image_constraints_satisfy_the_declared_ranges():
    """container/constraints.txt pins what the CPU images install; a pin outside pyproject's ranges would make the
    image build fail (or test something else than CI did)."""
    from packaging.requirements import Requirement

    pins = {}
    for line in Path("container/constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.lower().replace("_", "-")] = version
    declared = PYPROJECT["project"]["dependencies"] + [
        r for extra in ("web", "test", "ray", "lm-eval") for r in PYPROJECT["project"]["optional-dependencies"][extra]]
    checked = 0
    for text in declared:
        req = Requirement(text)
        name = req.name.lower().replace("_", "-")
        if name == "torch":
            continue  # chosen per image (TORCH_SPEC), not constrained
        assert name in pins, f"{name} is not pinned in container/constraints.txt (run make constraints)"
        assert req.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} outside {req.specifier}"
        checked += 1
    assert checked >= 30
