"""End to end in a real browser: Debian's chromium, driven by playwright, against `ladder serve` on 127.0.0.1.

The store holds the demo ladder's real results (profile demo) and a synthetic three-task production leaderboard
(for the task tabs). Screenshots are kept as test artifacts in $LADDER_TEST_ARTIFACTS (default test-artifacts/).
Skipped where chromium is not installed, unless LADDER_TEST_BROWSER=1 (set by .ci/run), which makes that a failure.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.leaderboard.conftest import VERIFIERS

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
XSS = "<script>alert(1)</script>"


def _chromium_or_skip():
    if not Path(CHROMIUM).exists():
        if os.environ.get("LADDER_TEST_BROWSER") == "1":
            pytest.fail(f"LADDER_TEST_BROWSER=1 but {CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium); .ci/run installs it")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(demo_ladder, engine, store_url, synthetic, tmp_path):
    """`ladder serve` over a store with the demo ladder and the synthetic production board; yields its URL."""
    from harness.cli import record_runs
    from harness.config import get_protocol

    manifests, results = zip(*demo_ladder.values(), strict=True)
    record_runs(engine, list(manifests), get_protocol("demo"), list(results))
    port = _free_port()
    env = {**os.environ, "LADDER_DATABASE_URL": store_url, "LADDER_DATA_DIR": str(tmp_path)}
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "serve", "--port", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=1)
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


@pytest.fixture
def page():
    _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        pg = browser.new_page(viewport={"width": 1500, "height": 1000})
        pg.dialogs = []
        pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
        yield pg
        browser.close()


def _artifacts() -> Path:
    out = Path(os.environ.get("LADDER_TEST_ARTIFACTS", "test-artifacts"))
    out.mkdir(parents=True, exist_ok=True)
    return out


def _names(page) -> list[str]:
    return page.locator("#leaderboard tbody td.name > a").all_inner_texts()


def _charts_rendered(page) -> int:
    page.wait_for_load_state("networkidle")
    imgs = page.locator("figure.chart img")
    ok = page.evaluate("() => [...document.querySelectorAll('figure.chart img')]"
                       ".every(i => i.complete && i.naturalWidth > 100 && i.naturalHeight > 50)")
    assert ok, "a chart did not render"
    return imgs.count()


@pytest.mark.slow
def test_leaderboard_in_a_real_browser(served, page, demo_ladder):
    # The demo ladder's real results: ranked by rubric accuracy (all four are free, so no tie-break by cost).
    page.goto(f"{served}/?profile=demo")
    expected = [m.name for m, r in sorted(demo_ladder.values(),
                                          key=lambda mr: -mr[1].tasks[0].audit.metrics.rubric_accuracy.value)]
    assert _names(page) == expected
    assert expected[0] == "demo-strong" and expected[-1] == "demo-near-random"
    rows = page.locator("#leaderboard tbody tr")
    for i, name in enumerate(expected):
        gates = rows.nth(i).locator("td.gate").all_inner_texts()
        assert gates == (["above", "above"] if name in ("demo-strong", "demo-moderate") else ["below", "below"])
    assert page.locator(".tab").all_inner_texts() == ["shapes 4"]
    # Each delta is the seed mean with its CI and "(n items x S seeds)"; the demo protocol trains 3+ seeds.
    deltas = page.locator("#leaderboard tbody td.delta").all_inner_texts()
    assert len(deltas) == 4 * 2
    assert all(re.fullmatch(r"[+-]\d+\.\d \[[+-]\d+\.\d, [+-]\d+\.\d\] \(\d+ x ([3-9]|\d\d+)\)", " ".join(d.split()))
               for d in deltas), deltas
    assert _charts_rendered(page) == 3
    page.screenshot(path=str(_artifacts() / "leaderboard-demo.png"), full_page=True)

    # Task tabs (synthetic production board, three tasks): the ranking follows the selected task.
    page.goto(served)
    assert [t.split()[0] for t in page.locator(".tab").all_inner_texts()] == ["mathvista", "mmmu", "blink"]
    page.click(".tab[data-task=mmmu]")
    page.wait_for_url("**task=mmmu**")
    assert page.locator(".tab.active").get_attribute("data-task") == "mmmu"
    by_mmmu = [n for n, _, _, acc in sorted(VERIFIERS, key=lambda v: -v[3]["mmmu"])]
    assert _names(page) == by_mmmu
    assert _charts_rendered(page) == 3

    # Sorting by cost: ascending, then descending on a second click; the state is in the URL.
    page.click("th[data-sort-key=cost] a")
    page.wait_for_url("**sort=cost**dir=asc**")
    costs = [float(c.strip("$")) for c in page.locator("#leaderboard tbody tr td:nth-last-child(3)").all_inner_texts()]
    assert costs == sorted(costs) and len(costs) == 5
    page.click("th[data-sort-key=cost] a")
    page.wait_for_url("**dir=desc**")
    costs = [float(c.strip("$")) for c in page.locator("#leaderboard tbody tr td:nth-last-child(3)").all_inner_texts()]
    assert costs == sorted(costs, reverse=True)
    assert page.locator("th[data-sort-key=cost]").get_attribute("aria-sort") == "descending"
    page.reload()  # a linked view restores itself
    assert page.locator("th[data-sort-key=cost]").get_attribute("aria-sort") == "descending"

    # A hostile name is text, never markup: it is visible and no script ran.
    assert page.get_by_text(XSS).count() >= 1 and page.dialogs == []
    page.screenshot(path=str(_artifacts() / "leaderboard-mmmu-by-cost.png"), full_page=True)

    # The verifier page: metrics and the training charts (loss and accuracy per round).
    page.click(f"#leaderboard a:text-is('{by_mmmu[0]}')")
    page.wait_for_url("**/submissions/**")
    assert page.locator("#verifier-name").inner_text().startswith(by_mmmu[0])
    assert _charts_rendered(page) == 9  # 3 tasks x (2 students' training charts + the training-seeds dot plot)
    # Training seeds: the table has each student's three seeds and their mean, on every task.
    assert page.locator("table.seeds tr.seed").count() == 3 * 2 * 3
    assert page.locator("table.seeds tr.seed-mean").count() == 3 * 2
    assert page.dialogs == []


@pytest.mark.slow
def test_the_kind_filter_in_a_real_browser(served, page, engine):
    """issue 19: one task's leaderboard lists verifiers of three kinds (generative judges, a log-probability judge, a
    reward model; the kind column says which), and the kind filter narrows the table to one kind."""
    from tests.fixtures.results import logprob_manifest, reward_manifest, store_run

    store_run(engine, logprob_manifest(), {"mathvista": 0.5, "mmmu": 0.55, "blink": 0.5})
    store_run(engine, reward_manifest(), {"mathvista": 0.6, "mmmu": 0.65, "blink": 0.6})
    page.goto(f"{served}/?task=mmmu")
    kinds = dict(zip(_names(page), page.locator("#leaderboard tbody td.kind").all_inner_texts(), strict=True))
    assert kinds["yes-no-judge"] == "logprob" and kinds["value-head-rm"] == "reward"
    assert {"generative", "logprob", "reward"} <= set(kinds.values()), kinds
    for kind, names in (("reward", ["value-head-rm"]), ("logprob", ["yes-no-judge"])):
        page.select_option("#filters select[name=kind]", kind)
        page.click("#filters button[type=submit]")
        page.wait_for_load_state("networkidle")
        assert f"kind={kind}" in page.url and _names(page) == names
        assert page.locator("#leaderboard tbody td.kind").all_inner_texts() == [kind]
    page.screenshot(path=str(_artifacts() / "leaderboard-kind-filter.png"), full_page=True)
