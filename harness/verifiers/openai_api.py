"""A verifier behind any OpenAI-compatible chat-completions endpoint (a vLLM server, a hosted judge).

Design, and why:

- **Transport: the official ``openai`` SDK**, imported inside the constructor so that importing
  :mod:`harness.verifiers` stays cheap. It builds the request, applies the per-request timeout
  (``endpoint.timeout_s``, used for connect, read, write and pool waits alike), maps HTTP errors
  to typed exceptions and parses the response. ``endpoint.base_url`` is passed verbatim and must
  include the API prefix (``http://host:8000/v1`` for vLLM); nothing is read from ``OPENAI_*``
  variables for the key or the URL.
- **Retries: our loop, not the SDK's** (the client is built with ``max_retries=0``). The SDK's own
  policy also retries 408 and 409 and obeys a server's ``x-should-retry`` header, whereas the
  protocol retries exactly timeouts, connection errors, 429 and 5xx and never another 4xx; and
  the SDK's exceptions do not say how many retries were spent, which the recorded error states
  ("timeout after 2 retries"). Backoff is exponential (``backoff_base_s * 2**attempt``, capped at
  ``backoff_max_s``) with jitter, or the server's numeric ``Retry-After`` when it sends one
  (capped at ``retry_after_max_s``).
- **Concurrency: a thread pool** of ``endpoint.concurrency`` workers sharing one (thread-safe)
  client, results collected in request order. Threads rather than asyncio because ``judge`` is
  synchronous and may be called from code that already runs an event loop.
- **Images** go as base64 PNG data URLs (lossless, accepted by vLLM and hosted APIs), one
  ``image_url`` content part each, followed by the rubric prompt as the text part. Each distinct
  image object is encoded once per batch (the candidates of one item share their images), in the
  calling thread, so no PIL image is touched by two threads at once.
- **Failures stay per request**: a timeout, an HTTP error, a malformed body, an image that cannot
  be encoded all become ``RawJudgment(text=None, error=...)``; an empty or missing message content
  gives ``text=""`` (the verdict parser then records a parse failure). Only configuration errors
  (a missing API key variable) raise, at construction.
- **The API key** comes from the variable named by ``endpoint.api_key_env`` (``"EMPTY"`` when none
  is named, as vLLM servers accept). It is never logged, and it is masked out of any recorded
  error text in case a server echoes it.
- **Structured output** (``judging.structured``): the request carries ``response_format`` with the verdict's JSON
  schema (strict), so a parse failure is the model's, not the sampler's; a server that ignores it answers as before
  and its parse failures are recorded as always.
- **Log-probability judging** (``judging.mode: logprob``): the request asks for one token with its
  ``top_logprobs``; the score is P(yes) / (P(yes) + P(no)) over them (:mod:`harness.verifiers.logprob`). A server
  that ignores ``logprobs``, or whose alternatives hold neither word, gives a recorded failure, never a 0.5.
- **Egress**: before any variable is read or any request made, the endpoint must pass the operator's
  policy (:mod:`harness.egress`: allowed key variables and their hosts, public addresses
  only), and every connection is checked again on its resolved address (the SDK's HTTP client is
  :func:`~harness.egress.guarded_http_client`).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import random
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from harness import cancel
from harness.cancel import Cancelled
from harness.egress import EgressPolicy, check_endpoint, guarded_http_client, resolve_checked
from harness.settings import get_settings
from harness.tasks.base import png_bytes
from harness.verifiers.base import VERDICT_JSON_SCHEMA, JudgeRequest, RawJudgment, VerifierBackend, structured_output
from harness.verifiers.logprob import neither_word, score_text, yes_no_score
from harness.verifiers.registry import register_backend

if TYPE_CHECKING:
    from PIL import Image

    from harness.submission import Manifest

log = logging.getLogger(__name__)

#: Sent when the manifest names no API key variable (vLLM servers started without --api-key accept any).
DUMMY_API_KEY = "EMPTY"
#: ``judging.structured``: the answer constrained to the verdict's JSON schema (OpenAI's structured outputs, which
#: vLLM's server also accepts).
RESPONSE_FORMAT = {"type": "json_schema", "json_schema": {"name": "verdict", "strict": True,
                                                          "schema": VERDICT_JSON_SCHEMA}}
#: Longest server error text kept in a recorded error.
_MAX_DETAIL_CHARS = 200


def encode_png_data_url(image: Image.Image) -> str:
    """The image as a ``data:image/png;base64,...`` URL."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode("ascii")


def backoff_delay(attempt: int, base_s: float, max_s: float, retry_after_s: float | None = None,
                  retry_after_max_s: float = 60.0, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number ``attempt + 1`` (``attempt`` counts from 0).

    A server's ``Retry-After`` wins (capped at ``retry_after_max_s``); otherwise exponential
    backoff ``base_s * 2**attempt`` capped at ``max_s``, scaled by a jitter factor in [0.5, 1).
    """
    if retry_after_s is not None and retry_after_s >= 0:
        return min(retry_after_s, retry_after_max_s)
    jitter = 0.5 + 0.5 * (rng or random).random()
    return min(base_s * 2.0 ** min(attempt, 30), max_s) * jitter


def _one_line(text: str, limit: int = _MAX_DETAIL_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _retry_after_s(headers: Any) -> float | None:
    """The numeric ``Retry-After`` (seconds) of a response, if any; HTTP dates are ignored."""
    value = headers.get("retry-after") if headers is not None else None
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds == seconds and seconds >= 0 else None  # rejects NaN


def _status_detail(err: Any) -> str:
    """A short reason from an HTTP error response: the server's ``error.message`` or its body text."""
    body = getattr(err, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
        if message:
            return _one_line(str(message))
    try:
        text = err.response.text
    except Exception:  # a response whose body cannot be read
        text = ""
    return _one_line(text or getattr(err, "message", "") or "")


@register_backend
class OpenAIBackend(VerifierBackend):
    """Judges through ``POST {base_url}/chat/completions`` with up to ``concurrency`` requests in flight."""

    name: ClassVar[str] = "openai"
    section: ClassVar[str] = "endpoint"
    uses_device: ClassVar[bool] = False
    remote: ClassVar[bool] = True
    judging_modes: ClassVar[tuple[str, ...]] = ("text", "logprob")

    #: First retry delay (seconds); doubles with each retry up to ``backoff_max_s``. Tests shrink these.
    backoff_base_s: float = 0.5
    backoff_max_s: float = 8.0
    #: Longest server-requested ``Retry-After`` honoured as is; longer ones are cut to this.
    retry_after_max_s: float = 60.0

    def __init__(self, manifest: Manifest, policy: EgressPolicy | None = None) -> None:
        super().__init__(manifest)
        endpoint = manifest.endpoint
        assert endpoint is not None, "manifest validation guarantees an 'endpoint' section"
        self.endpoint = endpoint
        judging = manifest.judging
        self._judging = judging if judging is not None and judging.mode == "logprob" else None
        self._structured = structured_output(manifest)
        policy = policy or EgressPolicy.from_settings(get_settings())
        refused = check_endpoint(endpoint, policy)
        if refused:
            raise refused[0]
        url = urlsplit(endpoint.base_url)
        resolve_checked(url.hostname or "", url.port or (443 if url.scheme == "https" else 80), policy)
        if endpoint.api_key_env is None:
            api_key = DUMMY_API_KEY
        else:
            api_key = os.environ.get(endpoint.api_key_env, "")
            if not api_key:
                raise RuntimeError(
                    f"endpoint.api_key_env names {endpoint.api_key_env!r}, but that environment variable "
                    "is not set or is empty"
                )
        self._secret = api_key if api_key != DUMMY_API_KEY else None

        import openai

        self._client: openai.OpenAI | None = openai.OpenAI(
            api_key=api_key,
            base_url=endpoint.base_url,
            timeout=endpoint.timeout_s,
            max_retries=0,  # retries are ours: see the module docstring
            http_client=guarded_http_client(policy, endpoint.timeout_s, max_connections=endpoint.concurrency),
        )
        log.info("openai backend: %s model=%s timeout=%gs retries=%d concurrency=%d",
                 endpoint.base_url, endpoint.model, endpoint.timeout_s, endpoint.max_retries, endpoint.concurrency)

    # -- public API -------------------------------------------------------------------------------

    def judge(self, requests: Sequence[JudgeRequest]) -> list[RawJudgment]:
        if self._client is None:
            raise RuntimeError("the openai backend is closed")
        if not requests:
            return []
        cache: dict[int, str | Exception] = {}
        bodies = [self._messages(req, cache) for req in requests]
        workers = min(self.endpoint.concurrency, len(requests))
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="openai-judge")
        try:
            futures = [pool.submit(self._judge_one, req, body) for req, body in zip(requests, bodies, strict=True)]
            out = [f.result() for f in futures]
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        failed = [j.error for j in out if j.error is not None]
        if failed:
            log.warning("openai backend: %d of %d requests failed (first: %s)", len(failed), len(out), failed[0])
        return out

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- one request ------------------------------------------------------------------------------

    def _messages(self, req: JudgeRequest, cache: dict[int, str | Exception]) -> list[dict] | str:
        """The chat messages for a request, or the reason they could not be built."""
        parts: list[dict] = []
        for image in req.images:
            key = id(image)  # the images outlive the batch, so ids are stable keys within it
            if key not in cache:
                try:
                    cache[key] = encode_png_data_url(image)
                except Exception as err:  # a corrupt or unsupported image fails only its requests
                    cache[key] = err
            url = cache[key]
            if isinstance(url, Exception):
                return f"image encoding failed: {type(url).__name__}: {_one_line(str(url))}"
            parts.append({"type": "image_url", "image_url": {"url": url}})
        parts.append({"type": "text", "text": req.prompt})
        return [{"role": "user", "content": parts}]

    def _judge_one(self, req: JudgeRequest, messages: list[dict] | str) -> RawJudgment:
        if isinstance(messages, str):
            return self._failure(req, messages)
        try:
            return self._call_with_retries(req, messages)
        except Cancelled:
            raise
        except Exception as err:  # last barrier: a bug here must not lose the other judgments
            log.exception("openai backend: unexpected error on %s#%d", req.item_id, req.candidate_index)
            return self._failure(req, f"internal error: {type(err).__name__}: {_one_line(str(err))}")

    def _call_with_retries(self, req: JudgeRequest, messages: list[dict]) -> RawJudgment:
        gen = self.manifest.generation
        max_retries = self.endpoint.max_retries
        attempt = 0
        while True:
            cancel.check()  # a cancelled job sends no further request, retries included
            client = self._client
            if client is None:
                return self._failure(req, "backend closed during the request")
            try:
                completion = client.chat.completions.create(
                    model=self.endpoint.model,
                    messages=messages,  # type: ignore[arg-type]
                    max_tokens=1 if self._judging else gen.max_new_tokens,
                    temperature=gen.temperature,
                    top_p=gen.top_p,
                    n=1,
                    **({"logprobs": True, "top_logprobs": self._judging.top_logprobs} if self._judging else {}),
                    **({"response_format": RESPONSE_FORMAT} if self._structured else {}),
                )
            except Exception as err:
                retryable, reason, detail, retry_after = self._classify(err)
                detail = self._mask(detail)
                if retryable and attempt < max_retries:
                    delay = backoff_delay(attempt, self.backoff_base_s, self.backoff_max_s,
                                          retry_after, self.retry_after_max_s)
                    log.info("openai backend: %s#%d: %s%s; retry %d of %d in %.2fs",
                             req.item_id, req.candidate_index, reason, detail, attempt + 1, max_retries, delay)
                    time.sleep(delay)
                    attempt += 1
                    continue
                return self._failure(req, reason + self._retries_note(attempt) + detail)
            return self._to_judgment(req, completion)

    def _classify(self, err: Exception) -> tuple[bool, str, str, float | None]:
        """(retryable, reason, detail, server-requested delay) for an exception from the SDK.

        The recorded error is ``reason + " after N retries" + detail``, e.g.
        "timeout after 1 retry (0.3 s per try)" or "HTTP 500 after 2 retries: engine crashed".
        """
        import openai

        if isinstance(err, openai.APITimeoutError):
            return True, "timeout", f" ({self.endpoint.timeout_s:g} s per try)", None
        if isinstance(err, openai.APIConnectionError):
            cause = err.__cause__
            detail = f"{type(cause).__name__}: {_one_line(str(cause))}" if cause else _one_line(str(err))
            return True, "connection error", f" ({detail})", None
        if isinstance(err, openai.APIStatusError):
            code = err.status_code
            retryable = code == 429 or code >= 500
            retry_after = _retry_after_s(err.response.headers) if retryable else None
            detail = _status_detail(err)
            return retryable, f"HTTP {code}", f": {detail}" if detail else "", retry_after
        if isinstance(err, json.JSONDecodeError):
            return False, "malformed JSON response", f": {_one_line(str(err))}", None
        return False, type(err).__name__, f": {_one_line(str(err))}", None

    @staticmethod
    def _retries_note(retries: int) -> str:
        return "" if retries == 0 else f" after {retries} {'retry' if retries == 1 else 'retries'}"

    def _to_judgment(self, req: JudgeRequest, completion: Any) -> RawJudgment:
        from openai.types.chat import ChatCompletion

        if not isinstance(completion, ChatCompletion):
            # The SDK hands back the body as text when the server's content type is not JSON.
            got = _one_line(completion, 80) if isinstance(completion, str) else type(completion).__name__
            return self._failure(req, f"malformed response: expected a chat completion, got {got!r}")
        choices = getattr(completion, "choices", None)
        usage = getattr(completion, "usage", None)
        input_tokens = _count(getattr(usage, "prompt_tokens", 0))
        output_tokens = _count(getattr(usage, "completion_tokens", 0))
        if not isinstance(choices, list) or not choices:
            return self._failure(req, "malformed response: no choices")
        if self._judging is not None:
            return self._logprob_judgment(req, choices[0], input_tokens, output_tokens)
        message = getattr(choices[0], "message", None)
        content = getattr(message, "content", None)
        if not isinstance(content, str):
            log.info("openai backend: %s#%d: empty content (finish_reason=%s)", req.item_id,
                     req.candidate_index, getattr(choices[0], "finish_reason", None))
            content = ""
        return RawJudgment(text=content, input_tokens=input_tokens, output_tokens=output_tokens)

    def _logprob_judgment(self, req: JudgeRequest, choice: Any, input_tokens: int, output_tokens: int
                          ) -> RawJudgment:
        """``judging.mode: logprob``: the score from the first token's top log-probabilities
        (:mod:`harness.verifiers.logprob`); a server that returns none is a recorded failure, never a guessed 0.5."""
        judging = self._judging
        assert judging is not None
        content = getattr(getattr(choice, "logprobs", None), "content", None)
        if not content:
            return self._failure(req, "the server returned no logprobs (judging.mode 'logprob' needs an endpoint "
                                      "that honours logprobs/top_logprobs)")
        top = getattr(content[0], "top_logprobs", None) or []
        score, p_yes, p_no = yes_no_score(((getattr(t, "token", ""), getattr(t, "logprob", float("nan")))
                                           for t in top), judging.yes_tokens, judging.no_tokens)
        if score is None:
            return self._failure(req, neither_word([getattr(t, "token", "") for t in top], judging.yes_tokens,
                                                   judging.no_tokens))
        return RawJudgment(text=score_text(score, p_yes, p_no), input_tokens=input_tokens,
                           output_tokens=output_tokens)

    def _mask(self, text: str) -> str:
        """``text`` with the API key masked out (a server may echo it in an error message)."""
        return text.replace(self._secret, "***") if self._secret else text

    def _failure(self, req: JudgeRequest, reason: str) -> RawJudgment:
        reason = self._mask(reason)
        log.info("openai backend: %s#%d failed: %s", req.item_id, req.candidate_index, reason)
        return RawJudgment(text=None, error=reason)


def _count(value: Any) -> int:
    """A token count from a usage field; anything that is not a non-negative int counts 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
