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


BLOCK_ML = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {'torch', 'transformers', 'trl', 'peft', 'datasets', 'accelerate', 'vllm', 'openai',
                                  'lm_eval', 'docker', 'ray'}:
            raise ImportError('the web image has no ' + name)
sys.meta_path.insert(0, Block())
"""


def test_leaderboard_serves_and_accepts_submissions_without_the_ml_stack(tmp_path):
    """What the slim `web` image runs: migrate, serve pages and the API, validate and queue a manifest."""
    code = BLOCK_ML + f"""
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
