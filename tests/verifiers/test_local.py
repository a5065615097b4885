"""Around every batch a local backend runs (harness.verifiers.local): an out-of-memory batch is split down to the
request that does not fit, any other error fails only its own batch's requests, and device time counts each
attempt once."""

from __future__ import annotations

import time

import torch
from PIL import Image

from harness.verifiers.base import JudgeRequest, RawJudgment
from harness.verifiers.local import guarded_batch


class _Backend:
    device = "cpu"
    device_seconds = 0.0


def _requests(n: int) -> list[JudgeRequest]:
    return [JudgeRequest(item_id=f"i{k}", candidate_index=0, images=[Image.new("RGB", (4, 4))], prompt=str(k))
            for k in range(n)]


def test_an_oom_batch_is_split_down_to_the_request_that_does_not_fit():
    calls = []

    def run(batch):
        calls.append([r.prompt for r in batch])
        time.sleep(0.01)
        if len(batch) > 2 or any(r.prompt == "5" for r in batch):
            raise torch.OutOfMemoryError("CUDA out of memory")
        return [RawJudgment(text=f'{{"score": 0.{r.prompt}}}') for r in batch]

    backend = _Backend()
    t0 = time.perf_counter()
    out = guarded_batch(backend, _requests(8), run)
    wall = time.perf_counter() - t0
    assert [j.text for j in out[:5]] == [f'{{"score": 0.{k}}}' for k in range(5)]
    assert out[5].text is None and out[5].error == "out of memory on a single request"
    assert [j.text for j in out[6:]] == ['{"score": 0.6}', '{"score": 0.7}']
    assert calls[:3] == [[str(k) for k in range(8)], ["0", "1", "2", "3"], ["0", "1"]]
    # every attempt counted once: at least its 10 ms sleep, and never more than the call took (counting a split
    # batch's halves again inside the whole's time would exceed it)
    assert 0.01 * len(calls) <= backend.device_seconds <= wall


def test_another_error_fails_its_batch_with_the_reason_and_keeps_the_others():
    def run(batch):
        if batch[0].prompt == "2":
            raise ValueError("image 2 cannot be decoded")
        return [RawJudgment(text='{"score": 1}') for _ in batch]

    backend = _Backend()
    reqs = _requests(4)
    out = guarded_batch(backend, reqs[:2], run) + guarded_batch(backend, reqs[2:], run)
    assert [j.text for j in out[:2]] == ['{"score": 1}'] * 2
    assert [j.error for j in out[2:]] == ["ValueError: image 2 cannot be decoded"] * 2
