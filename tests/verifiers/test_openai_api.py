"""The openai backend against real HTTP servers on 127.0.0.1 (no mocked client).

Each test starts a ``ThreadingHTTPServer`` that implements ``POST /v1/chat/completions`` with a
scripted behaviour (answer, sleep, fail N times, malformed body) and counts its hits.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import math
import random
import socket
import time
from typing import Any

import pytest
from PIL import Image

from harness.submission import parse_manifest
from harness.verifiers import BACKENDS
from harness.verifiers.base import JudgeRequest
from harness.verifiers.openai_api import OpenAIBackend, backoff_delay, encode_png_data_url
from tests.fixtures.openai_server import Behaviour, FakeServer, Reply, completion, logprob_completion, ok

YES_NO_RUBRIC = "Question: {{ question }}\nAnswer: {{ candidate }}\nIs the answer correct? Reply Yes or No."


def manifest_for(base_url: str, judging: dict | None = None, **endpoint: Any) -> Any:
    return parse_manifest({
        "name": "judge-test", "family": "judge", "release": "v1", "owner": "tests",
        "backend": "openai",
        "endpoint": {"base_url": base_url, "model": "judge-test", "timeout_s": 5.0, "max_retries": 2,
                     "concurrency": 4, **endpoint},
        "generation": {"max_new_tokens": 48, "temperature": 0.25, "top_p": 0.9},
        "cost": {"kind": "api", "usd_per_1m_input_tokens": 0.1, "usd_per_1m_output_tokens": 0.4,
                 "priced_on": "2026-11-01"},
        **({"judging": judging, "rubric_template": YES_NO_RUBRIC} if judging else {}),
    })


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    # A proxy set in the environment must not swallow traffic to the test servers.
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    # The servers are on 127.0.0.1: the operator's policy must allow that and the test keys (tests/security
    # checks the default policy, which refuses both).
    monkeypatch.setenv("LADDER_ALLOW_LOCAL_ENDPOINTS", "1")
    monkeypatch.setenv("LADDER_ENDPOINT_KEYS",
                       '{"LADDER_JUDGE_KEY": ["127.0.0.1"], "LADDER_ABSENT_KEY": ["127.0.0.1"]}')


@pytest.fixture
def serve():
    servers: list[FakeServer] = []

    def start(behaviour: Behaviour) -> FakeServer:
        servers.append(FakeServer(behaviour))
        return servers[-1]

    yield start
    for s in servers:
        s.stop()


@pytest.fixture
def backend_for():
    backends: list[OpenAIBackend] = []

    def make(base_url: str, judging: dict | None = None, **endpoint: Any) -> OpenAIBackend:
        b = OpenAIBackend(manifest_for(base_url, judging, **endpoint))
        b.backoff_base_s = 0.01  # keep retries fast; the policy, not the wait, is under test
        b.backoff_max_s = 0.05
        backends.append(b)
        return b

    yield make
    for b in backends:
        b.close()


IMG_A = Image.new("RGB", (32, 24), (200, 30, 30))
IMG_B = Image.new("RGB", (16, 40), (30, 200, 30))


def request(i: int = 0, images: list[Image.Image] | None = None, prompt: str | None = None) -> JudgeRequest:
    return JudgeRequest(item_id=f"item-{i // 4}", candidate_index=i % 4,
                        images=[IMG_A] if images is None else images, prompt=prompt or f"judge candidate {i}")


def test_registered_and_cheap():
    assert BACKENDS.get("openai") is OpenAIBackend
    assert OpenAIBackend.uses_device is False


def test_batch_in_order_with_request_shape(serve, backend_for):
    def answer(n: int, body: dict, headers: dict, server: FakeServer) -> Reply:
        time.sleep(random.uniform(0.0, 0.04))  # finish out of order
        i = int(body["messages"][0]["content"][-1]["text"].rsplit(" ", 1)[1])
        return 200, {}, completion(json.dumps({"score": i / 100}), prompt_tokens=1000 + i, completion_tokens=i + 1)

    server = serve(answer)
    backend = backend_for(server.base_url, concurrency=4)
    images_of = {i: [IMG_A] if i % 3 else [IMG_A, IMG_B] for i in range(20)}
    reqs = [request(i, images_of[i]) for i in range(20)]

    out = backend.judge(reqs)

    assert [j.error for j in out] == [None] * 20
    assert [json.loads(j.text)["score"] for j in out] == [i / 100 for i in range(20)]
    assert [j.input_tokens for j in out] == [1000 + i for i in range(20)]
    assert [j.output_tokens for j in out] == [i + 1 for i in range(20)]
    assert not any(j.simulated for j in out)
    assert server.hits == 20
    assert 2 <= server.max_in_flight <= 4

    for body in server.requests:
        assert body["model"] == "judge-test"
        assert body["max_tokens"] == 48
        assert body["temperature"] == 0.25
        assert body["top_p"] == 0.9
        (message,) = body["messages"]
        assert message["role"] == "user"
        *image_parts, text_part = message["content"]
        assert text_part["type"] == "text"
        i = int(text_part["text"].rsplit(" ", 1)[1])
        assert text_part["text"] == reqs[i].prompt
        assert len(image_parts) == len(images_of[i])
        for part, img in zip(image_parts, images_of[i], strict=True):
            assert part["type"] == "image_url"
            url = part["image_url"]["url"]
            assert url.startswith("data:image/png;base64,")
            png = base64.b64decode(url.split(",", 1)[1])
            assert png[:8] == b"\x89PNG\r\n\x1a\n"
            decoded = Image.open(io.BytesIO(png))
            assert decoded.format == "PNG"
            assert decoded.size == img.size
            assert decoded.convert("RGB").getpixel((0, 0)) == img.getpixel((0, 0))


def test_timeout_is_recorded_and_fast(serve, backend_for):
    def hang(n: int, body: dict, headers: dict, server: FakeServer) -> Reply:
        server.release.wait(5.0)
        return ok()

    server = serve(hang)
    backend = backend_for(server.base_url, timeout_s=0.3, max_retries=1)
    t0 = time.monotonic()
    (j,) = backend.judge([request()])
    elapsed = time.monotonic() - t0

    assert j.text is None
    assert j.error is not None and j.error.startswith("timeout")
    assert j.error == "timeout after 1 retry (0.3 s per try)"
    assert (j.input_tokens, j.output_tokens) == (0, 0)
    assert server.hits == 2  # first try + one retry
    assert elapsed < 2.5


def test_5xx_then_success_is_retried(serve, backend_for):
    def flaky(n: int, *_: Any) -> Reply:
        return (503, {}, {"error": {"message": "warming up"}}) if n <= 2 else ok()

    server = serve(flaky)
    (j,) = backend_for(server.base_url, max_retries=3).judge([request()])
    assert j.error is None
    assert json.loads(j.text) == {"score": 0.8}
    assert (j.input_tokens, j.output_tokens) == (11, 3)
    assert server.hits == 3


def test_always_500_records_the_status(serve, backend_for):
    server = serve(lambda *_: (500, {}, {"error": {"message": "engine crashed", "type": "server_error"}}))
    (j,) = backend_for(server.base_url, max_retries=2).judge([request()])
    assert j.text is None
    assert j.error == "HTTP 500 after 2 retries: engine crashed"
    assert server.hits == 3


def test_400_is_not_retried(serve, backend_for):
    server = serve(lambda *_: (400, {}, "prompt too long"))
    (j,) = backend_for(server.base_url, max_retries=3).judge([request()])
    assert j.text is None
    assert j.error == "HTTP 400: prompt too long"
    assert server.hits == 1


def test_429_is_retried(serve, backend_for):
    def limited(n: int, *_: Any) -> Reply:
        return (429, {"Retry-After": "0.05"}, {"error": {"message": "slow down"}}) if n == 1 else ok()

    server = serve(limited)
    (j,) = backend_for(server.base_url, max_retries=1).judge([request()])
    assert j.error is None and json.loads(j.text) == {"score": 0.8}
    assert server.hits == 2

    always = serve(lambda *_: (429, {}, {"error": {"message": "quota"}}))
    (j,) = backend_for(always.base_url, max_retries=1).judge([request()])
    assert j.error == "HTTP 429 after 1 retry: quota"
    assert always.hits == 2


@pytest.mark.parametrize(
    ("reply", "expected_error"),
    [
        ((200, {}, b'{"choices": [ {"message": '), "malformed JSON response"),
        ((200, {"Content-Type": "text/plain"}, "hello"), "malformed response: expected a chat completion"),
        ((200, {}, completion("x", choices=[])), "malformed response: no choices"),
    ],
    ids=["truncated-json", "not-json", "no-choices"],
)
def test_malformed_body_is_an_error_not_a_crash(serve, backend_for, reply, expected_error):
    server = serve(lambda *_: (reply[0], dict(reply[1]), reply[2]))
    (j,) = backend_for(server.base_url, max_retries=2).judge([request()])
    assert j.text is None
    assert j.error is not None and j.error.startswith(expected_error), j.error
    assert server.hits == 1  # a malformed 200 is not retried


@pytest.mark.parametrize("content", [None, ""], ids=["null", "empty"])
def test_empty_content_gives_empty_text(serve, backend_for, content):
    server = serve(lambda *_: (200, {}, completion(content, prompt_tokens=7, completion_tokens=0)))
    (j,) = backend_for(server.base_url).judge([request()])
    assert j.error is None
    assert j.text == ""
    assert (j.input_tokens, j.output_tokens) == (7, 0)


def test_missing_usage_counts_zero(serve, backend_for):
    server = serve(lambda *_: (200, {}, completion('{"score": 1}', usage=None)))
    (j,) = backend_for(server.base_url).judge([request()])
    assert (j.text, j.input_tokens, j.output_tokens) == ('{"score": 1}', 0, 0)


def test_one_failure_does_not_spoil_the_batch(serve, backend_for):
    def picky(n: int, body: dict, *_: Any) -> Reply:
        if "bad" in body["messages"][0]["content"][-1]["text"]:
            return 422, {}, {"error": {"message": "unprocessable"}}
        return ok()

    server = serve(picky)
    reqs = [request(0), request(1, prompt="a bad one"), request(2)]
    out = backend_for(server.base_url).judge(reqs)
    assert [j.error for j in out] == [None, "HTTP 422: unprocessable", None]
    assert out[0].text == out[2].text == '{"score": 0.8}'


def test_connection_refused_is_recorded(backend_for):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (j,) = backend_for(f"http://127.0.0.1:{port}/v1", max_retries=1).judge([request()])
    assert j.text is None
    assert j.error is not None and j.error.startswith("connection error after 1 retry (")


def test_api_key_from_env_is_sent_and_never_logged(serve, backend_for, monkeypatch, caplog):
    secret = "sk-ladder-test-0123456789"
    monkeypatch.setenv("LADDER_JUDGE_KEY", secret)
    caplog.set_level(logging.DEBUG)

    def echo_key(n: int, *_: Any) -> Reply:  # a 500 (retried, logged) then a 401, both echoing the key
        return (500 if n == 1 else 401), {}, {"error": {"message": f"bad key {secret}"}}

    server = serve(echo_key)
    (j,) = backend_for(server.base_url, api_key_env="LADDER_JUDGE_KEY").judge([request()])
    assert [h["authorization"] for h in server.headers] == [f"Bearer {secret}"] * 2
    assert j.error == "HTTP 401 after 1 retry: bad key ***"  # an echoed key is masked
    assert server.hits == 2
    assert "bad key ***" in caplog.text
    assert secret not in caplog.text


def test_no_key_env_sends_dummy_key(serve, backend_for, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leak")
    server = serve(ok)
    backend_for(server.base_url, api_key_env=None).judge([request()])
    assert server.headers[0]["authorization"] == "Bearer EMPTY"


def test_missing_key_env_fails_at_construction(monkeypatch):
    monkeypatch.delenv("LADDER_ABSENT_KEY", raising=False)
    with pytest.raises(RuntimeError, match="LADDER_ABSENT_KEY"):
        OpenAIBackend(manifest_for("http://127.0.0.1:9/v1", api_key_env="LADDER_ABSENT_KEY"))


def test_empty_batch_and_close(serve):
    server = serve(ok)
    backend = OpenAIBackend(manifest_for(server.base_url))
    assert backend.judge([]) == []
    backend.close()
    backend.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        backend.judge([request()])
    assert server.hits == 0


def test_png_data_url_handles_non_png_modes():
    for img in (Image.new("CMYK", (5, 7)), Image.new("LA", (3, 3)), Image.new("P", (4, 2))):
        url = encode_png_data_url(img)
        decoded = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
        assert decoded.format == "PNG" and decoded.size == img.size


def test_backoff_is_exponential_capped_and_honours_retry_after():
    rng = random.Random(0)
    delays = [backoff_delay(a, 0.5, 8.0, rng=rng) for a in range(8)]
    for a, d in enumerate(delays):
        full = min(0.5 * 2**a, 8.0)
        assert 0.5 * full <= d <= full
    assert backoff_delay(3, 0.5, 8.0, retry_after_s=2.0) == 2.0
    assert backoff_delay(3, 0.5, 8.0, retry_after_s=600.0, retry_after_max_s=60.0) == 60.0


# ---- judging.mode: logprob -------------------------------------------------------------------------------------

def _yes_no_top(i: int) -> list[tuple[str, float]]:
    """Request i's first-token alternatives: yes spelled two ways, no, and a word that is neither."""
    p_yes = (i + 1) / 40
    return [("No", math.log(0.5 - p_yes / 2)), ("Yes", math.log(p_yes * 0.7)), (" yes", math.log(p_yes * 0.3)),
            ("Maybe", math.log(0.05))]


def test_a_logprob_judge_scores_the_servers_yes_probability(serve, backend_for):
    """The score is the server's P(yes) / (P(yes) + P(no)), every spelling counted; the request asks for one token
    with its top log-probabilities; nothing fails to parse."""
    from harness.stages.verdict import parse_verdict

    def answer(n: int, body: dict, headers: dict, server: FakeServer) -> Reply:
        i = int(body["messages"][0]["content"][-1]["text"].rsplit(" ", 1)[1])
        return 200, {}, logprob_completion(_yes_no_top(i))

    server = serve(answer)
    backend = backend_for(server.base_url, judging={"mode": "logprob", "yes_tokens": ["Yes"], "no_tokens": ["no"]})
    out = backend.judge([request(i) for i in range(12)])
    assert [j.error for j in out] == [None] * 12
    expected = [sum(math.exp(lp) for t, lp in _yes_no_top(i) if t.strip() in ("Yes", "yes"))
                / sum(math.exp(lp) for t, lp in _yes_no_top(i) if t.strip() != "Maybe") for i in range(12)]
    assert [parse_verdict(j.text).score for j in out] == pytest.approx(expected, abs=1e-12)
    assert all(r["logprobs"] is True and r["top_logprobs"] == 20 and r["max_tokens"] == 1 for r in server.requests)


def test_a_server_without_logprobs_is_a_recorded_failure_not_a_guess(serve, backend_for):
    server = serve(lambda *_: (200, {}, completion("Yes")))  # logprobs ignored, as some servers do
    (out,) = backend_for(server.base_url, judging={"mode": "logprob"}).judge([request()])
    assert out.text is None and "returned no logprobs" in out.error
    neither = serve(lambda *_: (200, {}, logprob_completion([("Maybe", -0.1), ("Perhaps", -2.5)])))
    (out,) = backend_for(neither.base_url, judging={"mode": "logprob"}).judge([request()])
    assert out.text is None and "neither a yes token" in out.error and "'Maybe'" in out.error


def test_logprob_judging_is_checked_against_the_backend_and_the_rubric():
    from harness.submission import ManifestError

    base = {"name": "j", "family": "j", "release": "1", "owner": "t",
            "cost": {"kind": "none", "priced_on": "2026-11-01"}}
    with pytest.raises(ManifestError, match="not implemented by backend 'simulated'"):
        parse_manifest({**base, "backend": "simulated", "simulated": {"agreement": 0.9},
                        "judging": {"mode": "logprob"}, "rubric_template": YES_NO_RUBRIC})
    endpoint = {"base_url": "http://127.0.0.1:1/v1", "model": "m"}
    with pytest.raises(ManifestError, match="needs a rubric_template"):
        parse_manifest({**base, "backend": "openai", "endpoint": endpoint, "judging": {"mode": "logprob"}})
    with pytest.raises(ManifestError, match="share"):
        parse_manifest({**base, "backend": "openai", "endpoint": endpoint, "rubric_template": YES_NO_RUBRIC,
                        "judging": {"mode": "logprob", "yes_tokens": ["Yes"], "no_tokens": [" yes"]}})
    plain = parse_manifest({**base, "backend": "openai", "endpoint": endpoint})
    assert "judging" not in plain.model_dump(mode="json")  # manifests without it hash as they always did
