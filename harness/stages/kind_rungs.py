"""The demo ladder's rungs of the other verifier kinds (issue 19): a tiny reward model and a tiny log-probability
judge, built on this machine from the warmed-up demo students and audited only (no self-DPO: they run the other
kinds' code paths, from the manifest to the leaderboard's kind column; the four simulated rungs carry the findings).
Both are untrained as verifiers and labelled so; their audits measure near chance, as they should.

- ``demo-tiny-reward-model`` (backend ``reward_model``): the warmed-up tiny Qwen2.5-VL student as the backbone and a
  seeded random value head, saved in the published layout (``value_head.safetensors``). A value head fitted by
  logistic regression on the train split's (item, option, exact-match) rows did no better (AUROC 0.52 on the train
  rows themselves, 0.52 on the audit's): the tiny student's final hidden state holds no linear trace of whether the
  answer is right, so a fitted head would only pretend to be a trained reward model.
- ``demo-tiny-logprob-judge`` (backend ``hf``, ``judging.mode: logprob``): the warmed-up tiny Qwen3-VL student asked
  whether a proposed answer is right, "A" for yes and "B" for no.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from harness.config import ProtocolConfig
from harness.settings import Settings
from harness.submission import Manifest, parse_manifest

REWARD_RUNG, LOGPROB_RUNG = "demo-tiny-reward-model", "demo-tiny-logprob-judge"
JUDGE_RUBRIC = ("{{ question }}\n\nProposed answer: {{ candidate }}\n\nIs the proposed answer correct? Reply A for "
                "yes or B for no.")
_FREE = {"kind": "none", "priced_on": "2026-12-04"}


def build_reward_model(student_dir: Path, folder: Path, seed: int = 0) -> Path:
    """``folder``: a copy of the student's checkpoint with a seeded random value head beside it, written whole or
    not at all (a half-built reward model is never audited)."""
    from transformers import AutoConfig

    from harness.models.loading import text_hidden_size
    from harness.models.tiny import save_value_head

    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(student_dir, tmp)
    save_value_head(text_hidden_size(AutoConfig.from_pretrained(tmp)), tmp, seed=seed)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder


def kind_rungs(protocol: ProtocolConfig, settings: Settings) -> list[Manifest]:
    """The two rungs' manifests, building the reward model under the data directory on first use (the students
    must be warmed up already: :func:`harness.stages.students.resolve_students`); none for a protocol without a tiny
    Qwen2.5-VL and a tiny Qwen3-VL student."""
    from harness.stages.students import resolve_student

    by_family = {s.tiny.family: s for s in protocol.students if s.tiny is not None}
    if not {"qwen2_5_vl", "qwen3_vl"} <= by_family.keys():
        return []  # a protocol without the two tiny students (a private profile): no rungs to build
    backbone = resolve_student(by_family["qwen2_5_vl"], settings.data_dir, protocol.split_seed).path
    judge = resolve_student(by_family["qwen3_vl"], settings.data_dir, protocol.split_seed).path
    folder = settings.data_dir / "tiny-verifiers" / f"reward-{Path(backbone).name}"
    if not (folder / "value_head.safetensors").exists():
        build_reward_model(Path(backbone), folder)
    common = {"release": "1", "owner": "verifier-ladder", "cost": _FREE}
    return [
        parse_manifest({**common, "name": REWARD_RUNG, "family": REWARD_RUNG, "backend": "reward_model",
                        "model": {"path": str(folder)}, "reward": {"scale": 1.0, "offset": 0.0},
                        "notes": "Tiny and untrained, built by `ladder demo` (audit only): the warmed-up tiny "
                                 "Qwen2.5-VL student with a random value head."}, REWARD_RUNG),
        parse_manifest({**common, "name": LOGPROB_RUNG, "family": LOGPROB_RUNG, "backend": "hf",
                        "model": {"path": str(judge)}, "rubric_template": JUDGE_RUBRIC,
                        "judging": {"mode": "logprob", "yes_tokens": ["A"], "no_tokens": ["B"]},
                        "notes": "Tiny and untrained as a judge, built by `ladder demo` (audit only): the warmed-up "
                                 "tiny Qwen3-VL student asked whether an answer is right (A yes, B no)."},
                       LOGPROB_RUNG),
    ]
