"""A manifest never chooses which of the operator's secrets leave the machine or which hosts are reached.

Probes of issue 15, each against a real HTTP listener on 127.0.0.1 that records what reaches it: a manifest
naming ``api_key_env: AWS_SECRET_ACCESS_KEY`` made the worker send that secret to the submitter's listener;
``base_url`` on 127.0.0.1, 169.254.169.254 or [::1] was reached (SSRF). Now the backend refuses before it reads
any variable or opens any connection, a name that resolves to a forbidden address at connect time (DNS
rebinding) is refused there, and redirects are not followed.
"""

from __future__ import annotations

import socket

import pytest

from harness.egress import EgressPolicy, EgressRefused, address_problem, check_endpoint
from harness.settings import Settings
from harness.submission import parse_manifest
from harness.verifiers.base import JudgeRequest
from harness.verifiers.openai_api import OpenAIBackend
from tests.fixtures.openai_server import FakeServer, ok

SECRET = "aws-secret-must-not-leak"


def manifest(base_url: str, **endpoint):
    return parse_manifest({
        "name": "probe", "family": "probe", "release": "1", "owner": "attacker", "backend": "openai",
        "endpoint": {"base_url": base_url, "model": "m", "max_retries": 1, "timeout_s": 3, **endpoint},
        "cost": {"kind": "api", "usd_per_1m_input_tokens": 1, "usd_per_1m_output_tokens": 1,
                 "priced_on": "2026-11-26"},
    })


def request() -> JudgeRequest:
    return JudgeRequest(item_id="i", candidate_index=0, student="s", images=[], prompt="p", truth=True)


@pytest.fixture
def listener():
    server = FakeServer(ok)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _operator_env(monkeypatch):
    for var in ("LADDER_ALLOW_LOCAL_ENDPOINTS", "LADDER_ENDPOINT_KEYS", "LADDER_ENDPOINT_HOSTS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)


def _resolving(monkeypatch, *answers: str):
    """Make every name resolve to the next of ``answers`` (the last one repeats): a DNS server the submitter
    controls."""
    calls = []

    def fake(host, port, *args, **kwargs):
        address = answers[min(len(calls), len(answers) - 1)]
        calls.append((host, address))
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr("harness.egress.socket.getaddrinfo", fake)
    return calls


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:{port}/v1", "http://169.254.169.254/latest/v1",
                                      "http://[::1]:6379/v1", "http://10.0.0.7/v1", "http://192.168.1.1/v1",
                                      "http://[::ffff:127.0.0.1]:{port}/v1", "http://localhost:{port}/v1",
                                      "http://0.0.0.0:{port}/v1", "http://100.64.0.1/v1"])
def test_an_endpoint_on_a_local_private_or_metadata_address_is_refused_before_any_request(base_url, listener):
    url = base_url.format(port=listener.port)
    with pytest.raises(EgressRefused) as refused:
        OpenAIBackend(manifest(url))
    assert refused.value.field == "endpoint.base_url" and "public address" in str(refused.value)
    assert listener.hits == 0


def test_a_key_variable_off_the_allow_list_is_refused_and_never_read(listener, monkeypatch):
    monkeypatch.setenv("LADDER_ALLOW_LOCAL_ENDPOINTS", "1")  # even where local endpoints are allowed
    for var in ("AWS_SECRET_ACCESS_KEY", "LADDER_DATABASE_URL", "HF_TOKEN"):
        with pytest.raises(EgressRefused, match=f"'{var}' is not a key variable") as refused:
            OpenAIBackend(manifest(listener.base_url, api_key_env=var))
        assert refused.value.field == "endpoint.api_key_env"
    assert listener.hits == 0


def test_an_allowed_key_goes_only_to_the_hosts_it_is_bound_to(listener, monkeypatch):
    monkeypatch.setenv("LADDER_ALLOW_LOCAL_ENDPOINTS", "1")
    monkeypatch.setenv("LADDER_ENDPOINT_KEYS", '{"JUDGE_KEY": ["api.judge.example"]}')
    monkeypatch.setenv("JUDGE_KEY", "sk-judge")
    with pytest.raises(EgressRefused, match="may not be sent to '127.0.0.1'"):
        OpenAIBackend(manifest(listener.base_url, api_key_env="JUDGE_KEY"))
    assert listener.hits == 0
    # Bound to the listener's address, the key is sent there (and only there).
    monkeypatch.setenv("LADDER_ENDPOINT_KEYS", '{"JUDGE_KEY": ["127.0.0.1"]}')
    with OpenAIBackend(manifest(listener.base_url, api_key_env="JUDGE_KEY")) as backend:
        (judgment,) = backend.judge([request()])
    assert judgment.error is None and listener.headers[0]["authorization"] == "Bearer sk-judge"


def test_a_name_that_resolves_to_a_forbidden_address_is_refused(listener, monkeypatch):
    _resolving(monkeypatch, "127.0.0.1")
    with pytest.raises(EgressRefused, match="resolves to 127.0.0.1"):
        OpenAIBackend(manifest(f"http://judge.attacker.example:{listener.port}/v1"))
    assert listener.hits == 0


def test_dns_rebinding_is_refused_at_connect_time(listener, monkeypatch):
    # Public when the backend is built, this machine when the request is made: the connection is refused.
    calls = _resolving(monkeypatch, "93.184.215.14", "127.0.0.1")
    with OpenAIBackend(manifest(f"http://judge.attacker.example:{listener.port}/v1")) as backend:
        (judgment,) = backend.judge([request()])
    assert "refused by the operator's endpoint policy" in judgment.error and "127.0.0.1" in judgment.error
    assert len(calls) >= 2 and listener.hits == 0


def test_a_redirect_to_another_host_is_not_followed(monkeypatch):
    target = FakeServer(ok)
    redirect = FakeServer(lambda *a: (307, {"location": f"{target.base_url}/chat/completions"}, {}))
    try:
        monkeypatch.setenv("LADDER_ALLOW_LOCAL_ENDPOINTS", "1")
        with OpenAIBackend(manifest(redirect.base_url)) as backend:
            (judgment,) = backend.judge([request()])
        assert redirect.hits == 1 and target.hits == 0 and "307" in judgment.error
    finally:
        target.stop()
        redirect.stop()


def test_the_operator_can_narrow_endpoints_to_named_hosts():
    policy = EgressPolicy(hosts=("*.judges.example",))
    assert check_endpoint(manifest("https://a.judges.example/v1").endpoint, policy) == []
    (refused,) = check_endpoint(manifest("https://judges.example.evil.com/v1").endpoint, policy)
    assert refused.field == "endpoint.base_url" and "not among the hosts" in refused.problem


def test_credentials_in_the_url_are_refused():
    (refused,) = check_endpoint(manifest("https://user:pw@api.example.com/v1").endpoint, EgressPolicy())
    assert "credentials" in refused.problem


def test_public_addresses_pass_and_the_policy_comes_from_settings():
    assert address_problem("93.184.215.14") is None and address_problem("2606:4700::1111") is None
    assert "link-local" in address_problem("169.254.169.254")
    policy = EgressPolicy.from_settings(Settings(endpoint_keys={"K": ["h.example"]}, allow_local_endpoints=True))
    assert policy.keys == {"K": ("h.example",)} and policy.allow_local
