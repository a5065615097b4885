"""The production path on real-layout checkpoints: each production model's published files (sizes, vocabulary and
weights small: tests/fixtures/checkpoints.py) loaded through the harness's loader with the stock processor class the
checkpoint names, its published chat template rendering the task prompts, and one audit judgment, one self-DPO
round and one evaluation run on it.

The stock Qwen VL processors build a video processor, which needs torchvision; torchvision does not import beside
the CPU torch wheel of the main environment, so these tests run in the second test environment (`make test`
builds it: torch 2.14 with torchvision, as in the GPU image) and are skipped elsewhere.
"""

from __future__ import annotations

import math

import pytest

pytest.importorskip("torchvision")

from harness.config import ModelRef, get_protocol  # noqa: E402
from harness.models import published  # noqa: E402
from harness.models.generate import user_message  # noqa: E402
from harness.models.loading import load_vlm  # noqa: E402
from harness.stages.common import render_rubric  # noqa: E402
from harness.stages.evaluate import evaluate  # noqa: E402
from harness.stages.selfdpo import self_dpo  # noqa: E402
from harness.submission import load_manifest, parse_manifest  # noqa: E402
from harness.tasks import get_task  # noqa: E402
from harness.verifiers import JudgeRequest, make_backend  # noqa: E402
from tests.fixtures import hub  # noqa: E402
from tests.fixtures.checkpoints import write_real_layout  # noqa: E402

pytestmark = [pytest.mark.stock, pytest.mark.slow]

IMAGE_SLOT = "<|vision_start|><|image_pad|><|vision_end|>"


@pytest.fixture(scope="module")
def mmmu(tmp_path_factory):
    """MMMU items in the hub schema: single-image (odd ids) and two-image (even ids) questions."""
    task = get_task("mmmu", configs=["Accounting"])
    items = task.items(path=hub.write_mmmu(tmp_path_factory.mktemp("mmmu"), per_subject=8, subjects=["Accounting"]))
    return task, items


@pytest.mark.parametrize("hub_id", published.models())
def test_a_real_layout_checkpoint_runs_the_protocol(hub_id, mmmu, tmp_path):
    task, items = mmmu
    folder = write_real_layout(hub_id, tmp_path / "checkpoint")
    model, processor = load_vlm(ModelRef(path=folder))

    # the stock processor class the checkpoint names, with its video processor (not the image-only subclass)
    named = published.published_json(hub_id, "preprocessor_config.json")["processor_class"]
    assert type(processor).__name__ == named and processor.video_processor is not None

    # the published chat template renders the task prompt: one image slot per image, then the generation prompt
    single, double = (next(it for it in items if len(it.images) == n) for n in (1, 2))
    for item in (single, double):
        text = processor.apply_chat_template(user_message(item.images, item.prompt), add_generation_prompt=True,
                                             tokenize=False)
        assert text.count(IMAGE_SLOT) == len(item.images) and text.endswith("<|im_start|>assistant\n")
        assert ("You are a helpful assistant." in text) == hub_id.startswith("Qwen/Qwen2.5-VL")  # Qwen3-VL: none
        inputs = processor(text=[text], images=[list(item.images)], return_tensors="pt")
        merge = processor.image_processor.merge_size
        expected = int((inputs["image_grid_thw"].prod(-1) // merge ** 2).sum())
        assert int((inputs["input_ids"] == model.config.image_token_id).sum()) == expected > 0

    # one audit judgment: the checkpoint as an hf-backend verifier (greedy, the rubric prompt, both images)
    judge = parse_manifest({"name": "real-layout", "family": "real-layout", "release": "1", "owner": "tests",
                            "backend": "hf", "model": {"path": str(folder)}, "dtype": "float32",
                            "generation": {"max_new_tokens": 8}, "cost": {"kind": "none", "priced_on": "2026-12-05"}})
    render = render_rubric(get_protocol("production").rubric_template)
    with make_backend(judge) as backend:
        (raw,) = backend.judge([JudgeRequest(item_id=double.id, candidate_index=0, images=double.images,
                                             prompt=render(double.prompt, "B"))])
    assert raw.error is None and raw.text is not None and raw.input_tokens > expected

    # one self-DPO round (a simulated verifier, no replay gate) and one evaluation, as production runs them
    protocol = get_protocol("production")
    cfg = protocol.selfdpo.model_copy(update={"rounds": 1, "prompts_per_round": 4, "k": 2, "tau": 0.0,
                                              "max_new_tokens": 4, "lora_r": 4, "batch_size": 2, "probe_size": 2})
    with make_backend(load_manifest("submissions/demo/strong.yaml")) as verifier:
        result = self_dpo(model, processor, task, items, items[:2], verifier, render, cfg, "student",
                          tmp_path / "work", decoding=protocol.decoding)
    (r,) = result.rounds
    assert r.steps >= 1 and all(math.isfinite(v) for _, v in result.loss_curve), result
    evaluation = evaluate(model, processor, task, items[:4],
                          protocol.eval_config().model_copy(update={"max_new_tokens": 8}))
    assert len(evaluation.predictions) == 4 and evaluation.accuracy.n == 4
