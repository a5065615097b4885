"""``ladder export-site``: the static site holds every page, chart and download, and no link in it is broken."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse

from typer.testing import CliRunner

from harness.cli import app


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.links.append(value)


def _links(page: Path) -> list[str]:
    parser = _Links()
    parser.feed(page.read_text())
    return parser.links


def test_export_site_writes_a_self_contained_site(synthetic, store_url, tmp_path, monkeypatch):
    monkeypatch.setenv("LADDER_DATABASE_URL", store_url)
    out = tmp_path / "site"
    result = CliRunner().invoke(app, ["export-site", str(out)])
    assert result.exit_code == 0, result.output
    pages = list(out.rglob("*.html"))
    for task in ("mmmu", "blink"):
        assert (out / "tasks" / task / "index.html").exists()
        assert (out / "tasks" / task / "sort-cost-desc.html").exists()
    assert (out / "plots" / "heatmap.svg").exists() and (out / "api" / "leaderboard-mmmu.csv").exists()
    # Training seeds: each submission's dot plot per task and per-seed download; seed columns in the exports.
    sid = synthetic[("judge-8b", "1")]
    assert (out / "plots" / f"seeds-{sid}-mmmu.svg").read_bytes().count(b'id="seed-point-') == 2 * 3
    assert len((out / "api" / "submissions" / str(sid) / "seeds.csv").read_text().splitlines()) == 1 + 3 * 2 * 3
    board = json.loads((out / "api" / "leaderboard-mmmu.json").read_text())
    assert all(s["seeds"] == 3 and len(s["seed_deltas"]) == 3 for r in board["items"] for s in r["students"])
    header = (out / "api" / "leaderboard-mmmu.csv").read_text().splitlines()[0].split(",")
    assert header[-6:] == ["qwen2.5-vl-3b:seeds", "qwen2.5-vl-3b:seed_sd", "qwen3-vl-2b:seeds", "qwen3-vl-2b:seed_sd",
                           "kind", "auroc"]
    assert "(300 x 3)" in (out / "index.html").read_text()
    checked = 0
    for page in pages:
        text = page.read_text()
        assert "<script>alert(1)</script>" not in text, page
        for link in _links(page):
            assert not urlparse(link).scheme and not link.startswith("/"), f"{page}: {link} is not relative"
            target = (page.parent / link.split("#")[0]).resolve()
            assert target.exists(), f"{page.relative_to(out)} links to missing {link}"
            checked += 1
    assert checked > 500
    # The home page of the export ranks like the server does (mathvista first in the task order).
    names = re.findall(r'<td class="name"><a href="[^"]+">([^<]+)</a>', (out / "index.html").read_text())
    assert names == ["judge-7b", "judge-4b", "judge-8b", "judge-4b", "&lt;script&gt;alert(1)&lt;/script&gt;"]


def test_export_site_with_nothing_stored_says_so(store_url, tmp_path, monkeypatch):
    monkeypatch.setenv("LADDER_DATABASE_URL", store_url)
    result = CliRunner().invoke(app, ["export-site", str(tmp_path / "site")])
    assert result.exit_code == 2 and "no succeeded results" in result.output
