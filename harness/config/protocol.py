"""The protocol: a versioned, typed description of how every submission is measured.

A result is only comparable with results of the same protocol version and profile. The
``production`` profile is the published benchmark (real students, the three benchmarks); the
``demo`` profile runs the same stages on CPU in minutes with two tiny students warmed up on
the synthetic ``shapes`` task.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from harness.config.base import Strict, digest
from harness.config.models import DType, ModelRef, TinySpec, WarmupConfig
from harness.config.stages import AuditConfig, DecodingConfig, EvalConfig, SelfDPOConfig

PROTOCOL_VERSION = "2"  # 2: self-DPO repeated over training seeds; outcomes are seed means

DEFAULT_RUBRIC = """You are checking a student's answer to a question about the image(s).

Question:
{{ question }}

Student's answer:
{{ candidate }}

Is the student's answer correct? Reply with a JSON object only, for example {"score": 0.9}, \
where score is the probability (0 to 1) that the student's answer is correct."""


class StudentConfig(Strict):
    """A student: a hub checkpoint (production) or a tiny model warmed up locally (demo)."""

    name: str = Field(description="Short name used in results, e.g. 'qwen3-vl-2b'.")
    model: ModelRef | None = Field(default=None, description="Hub id + revision or folder of a real checkpoint.")
    tiny: TinySpec | None = Field(default=None, description="Build a tiny model of this spec instead.")
    warmup: WarmupConfig | None = Field(default=None, description="Supervised warm-up of the tiny model.")
    warmup_task: str = Field(default="shapes", description="Task whose train split the warm-up uses.")
    dtype: DType = Field(default="bfloat16", description="Weights dtype on GPU (CPU always uses float32).")

    @model_validator(mode="after")
    def _one_source(self) -> StudentConfig:
        if (self.model is None) == (self.tiny is None):
            raise ValueError(f"student {self.name!r}: give exactly one of model ({self.model}) or tiny ({self.tiny})")
        if self.warmup is not None and self.tiny is None:
            raise ValueError(f"student {self.name!r}: warmup applies to tiny students only")
        return self


class ProtocolConfig(Strict):
    version: Literal["2"] = PROTOCOL_VERSION
    profile: str = Field(description="Name of this profile, e.g. 'production' or 'demo'.")
    tasks: tuple[str, ...] = Field(min_length=1, description="Target tasks, by registry name.")
    students: tuple[StudentConfig, StudentConfig] = Field(description="The two students.")
    audit: AuditConfig = Field(default_factory=AuditConfig)
    selfdpo: SelfDPOConfig = Field(default_factory=SelfDPOConfig)
    split_seed: int = Field(default=0, description="Seed of the audit/train/test split.")
    eval_max_new_tokens: int = Field(default=16, ge=1, description="Longest greedy answer in evaluation.")
    decoding: DecodingConfig = Field(default_factory=DecodingConfig, description="Which of a checkpoint's "
                                     "generation defaults every student generation overrides (DecodingConfig).")
    rubric_template: str = Field(default=DEFAULT_RUBRIC, description="Default rubric prompt (Jinja2).")
    item_limit: int | None = Field(default=None, ge=1, description="Use only the first N items of each split (audit, "
                                   "train, test) of every task: a try-out (`--limit N`). Its results are partial: "
                                   "marked so, under another digest, and never stored or ranked.")

    @model_validator(mode="after")
    def _check(self) -> ProtocolConfig:
        # Task names are checked against the task registry where tasks are resolved (harness.tasks.check_tasks,
        # called by the CLI and the runner): the configuration layer knows no task.
        names = [s.name for s in self.students]
        if len(set(names)) != len(names):
            raise ValueError(f"student names must differ, got {names}")
        return self

    def digest(self) -> str:
        """A short hash of the whole configuration: the cache key of everything it determines. A protocol without an
        audit pack or an item limit, and with the default decoding, hashes as before those existed, so caches and
        stored results keep their keys."""
        data = self.model_dump(mode="json")
        if data["audit"]["pack"] is None:
            del data["audit"]["pack"]
        if data["item_limit"] is None:
            del data["item_limit"]
        if self.decoding == DecodingConfig():  # the settings the code applied before the field existed
            del data["decoding"]
        return digest(data, 16)

    def eval_config(self) -> EvalConfig:
        """How students are evaluated under this protocol (greedy, ``eval_max_new_tokens``, ``decoding``)."""
        return EvalConfig(max_new_tokens=self.eval_max_new_tokens, decoding=self.decoding)

    def without_pack(self) -> ProtocolConfig:
        """This protocol with the students sampled and no item limit (the one an audit pack is built under)."""
        return self.model_copy(update={"audit": self.audit.model_copy(update={"pack": None}), "item_limit": None})

    def limited(self, n: int | None) -> ProtocolConfig:
        """This protocol on the first ``n`` items of each split (None: all of them), validated."""
        return self.model_validate({**self.model_dump(), "item_limit": n})

    def student(self, name: str) -> StudentConfig:
        for s in self.students:
            if s.name == name:
                return s
        raise KeyError(f"no student {name!r} in protocol profile {self.profile!r}")


def _production() -> ProtocolConfig:
    # Revisions: 'main' until `ladder fetch` resolves and records the commit (see README).
    return ProtocolConfig(
        profile="production",
        tasks=("mathvista", "mmmu", "blink"),
        students=(
            StudentConfig(name="qwen3-vl-2b", model=ModelRef(hub_id="Qwen/Qwen3-VL-2B-Instruct", revision="main")),
            StudentConfig(name="qwen2.5-vl-3b",
                          model=ModelRef(hub_id="Qwen/Qwen2.5-VL-3B-Instruct", revision="main")),
        ),
        audit=AuditConfig(max_new_tokens=512),
        selfdpo=SelfDPOConfig(max_new_tokens=512, lora=True),
        eval_max_new_tokens=512,
    )


def _demo() -> ProtocolConfig:
    # Students taught to hesitate: 40% of the warm-up's labels are the option after the answer, so each student
    # splits its answers between an item's answer and one fixed neighbour, and a preference pair decides which of
    # the two it learns (the README's demo section). Every letter stays a quarter of the labels; the settled
    # student may lean on a letter up to 50% (within one such pair), never drop one below 5%.
    warmup = WarmupConfig(confusion=0.4, pool_size=None, min_answer_share=0.05, max_answer_share=0.5, check_every=20)
    return ProtocolConfig(
        profile="demo",
        tasks=("shapes",),
        students=(
            StudentConfig(name="tiny-qwen3-vl", tiny=TinySpec(family="qwen3_vl"), warmup=warmup),
            StudentConfig(name="tiny-qwen2.5-vl", tiny=TinySpec(family="qwen2_5_vl"), warmup=warmup),
        ),
        audit=AuditConfig(max_new_tokens=4),
        # Trained as production trains: a LoRA adapter on every linear layer, the embeddings and output head frozen
        # (full-weight DPO of a tiny student moves the four answer letters' output rows directly, so a few pairs
        # can collapse it onto one letter). The plain preference loss (sigmoid DPO, no SFT term: an SFT term on a
        # wrong verifier's chosen answers, which the student cannot fit, kept its loss from falling). One round of
        # 512 prompts in 32-pair steps (a second round on the moved student sent some seeds back down, whichever
        # way the pairs pointed), the learning rate warmed up over the first 8 steps, three training seeds: see the
        # README's demo section.
        selfdpo=SelfDPOConfig(max_new_tokens=4, rounds=1, prompts_per_round=512, lora=True, lora_r=16,
                              learning_rate=5e-4, warmup_steps=8, beta=0.5, batch_size=32, epochs=2, seeds=3,
                              loss_type=("sigmoid",)),
        eval_max_new_tokens=4,
    )


def _smoke() -> ProtocolConfig:
    """Every stage once, as small as it goes (untrained tiny students, a handful of items): checks that a
    deployment runs the protocol end to end (the compose smoke test), not what any verifier is worth."""
    return ProtocolConfig(
        profile="smoke",
        tasks=("shapes",),
        students=(
            StudentConfig(name="tiny-qwen3-vl", tiny=TinySpec(family="qwen3_vl")),
            StudentConfig(name="tiny-qwen2.5-vl", tiny=TinySpec(family="qwen2_5_vl")),
        ),
        audit=AuditConfig(size=16, k=2, max_new_tokens=4),
        # One training seed, four candidates per prompt, no replay gate: the smoke test checks that self-DPO
        # runs. An untrained student's answers are all wrong, so a verifier's scores differ by less than the
        # production gate (tau 0.15) and a gated round often admits no pair (a failed seed): with three gated
        # seeds of two candidates the stack test failed for no reason of the stack's.
        selfdpo=SelfDPOConfig(rounds=1, prompts_per_round=8, k=4, max_new_tokens=4, lora=False, probe_size=8,
                              seeds=1, tau=0.0),
        eval_max_new_tokens=4,
    )


PROFILES = {"production": _production, "demo": _demo, "smoke": _smoke}


def get_protocol(profile: str = "production") -> ProtocolConfig:
    """A named profile, or a ProtocolConfig saved as JSON (for private experiments and tests;
    its results carry its own digest, so they never mix with a named profile's)."""
    if profile in PROFILES:
        return PROFILES[profile]()
    if profile.endswith(".json"):
        from pathlib import Path

        path = Path(profile)
        if path.is_file():
            return ProtocolConfig.model_validate_json(path.read_text())
    raise ValueError(f"unknown protocol profile {profile!r}; known: {sorted(PROFILES)} or a path to a .json file")
