"""The stages' settings: the rubric audit (stage 1), self-DPO (stage 2), evaluation (stage 3).

Every field of the audit and self-DPO settings is part of the protocol and of its digest. Fields the stages share
are typed once here (``Candidates``, ``Temperature``, ``MaxNewTokens``) and used by each.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from harness.config.base import Strict

SAMPLE_BATCH_PROMPTS = 16  # prompts per sampling call (x k candidates each): a memory bound, not protocol

Candidates = Annotated[int, Field(ge=2, description="Candidates sampled from the student per item (prompt).")]
Temperature = Annotated[float, Field(gt=0, description="Student sampling temperature for candidates.")]
MaxNewTokens = Annotated[int, Field(ge=1, description="Longest generated answer, in tokens.")]


#: A pack on the hub: 'owner/name@revision' (``PackRef.source`` and ``ladder audit --pack``).
HUB_PACK_PATTERN = r"^[A-Za-z0-9][\w.-]*/[\w.-]+@[\w./-]+$"


class PackRef(Strict):
    """An audit pack (:mod:`harness.packs`) that supplies the frozen students' candidates and baselines, so that no
    student is loaded. Its digest is part of the protocol's: audits from different packs are never ranked together.
    """

    name: str = Field(min_length=1, max_length=200, description="The pack's name (its pack.json).")
    digest: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the pack's checksums.sha256.")
    source: str | None = Field(default=None, pattern=HUB_PACK_PATTERN,
                               description="Hub dataset 'owner/name@revision' that `ladder fetch` downloads; None: "
                               "a local pack given with `ladder audit --pack PATH`.")


class AuditConfig(Strict):
    """Stage 1: the rubric audit."""

    size: int = Field(default=200, ge=1, description="Held-out audit items per task (the task's audit split).")
    k: Candidates = 8
    temperature: Temperature = 1.0
    top_p: float = Field(default=1.0, gt=0, le=1, description="Student nucleus sampling mass.")
    max_new_tokens: MaxNewTokens = 16
    threshold: float = Field(default=0.5, ge=0, le=1, description="Verdict 'correct' iff score >= threshold.")
    seed: int = Field(default=0, description="Seed of candidate sampling.")
    batch_size: int = Field(default=16, ge=1, description="Items per sampling call.")
    pack: PackRef | None = Field(default=None, description="Audit from this pack instead of sampling the students "
                                 "(None: sample them, cached per machine).")


class SelfDPOConfig(Strict):
    """Stage 2: self-DPO. Every field is part of the protocol (and of its digest)."""

    rounds: int = Field(default=3, ge=1, description="Sample-judge-train rounds.")
    prompts_per_round: int = Field(default=256, ge=1, description="Train-split prompts sampled per round.")
    k: Candidates = 8
    temperature: Temperature = 1.0
    max_new_tokens: MaxNewTokens = 16
    tau: float = Field(default=0.15, ge=0, le=1, description="Replay gate: admit a pair iff margin >= tau.")
    replay_ratio: float = Field(default=1.0, ge=0, description="Replayed pairs per newly admitted pair.")
    beta: float = Field(default=0.1, gt=0, description="DPO beta.")
    loss_type: tuple[str, ...] = Field(default=("sigmoid", "sft"), description="TRL DPO loss terms.")
    learning_rate: float = Field(default=2e-5, gt=0, description="DPO learning rate.")
    optimizer: Literal["adamw", "sgd"] = Field(default="adamw", description="The student's optimiser, kept across "
                                               "rounds: AdamW (the Trainer's defaults) or SGD with momentum 0.9.")
    warmup_steps: int = Field(default=0, ge=0, description="DPO steps (counted over the whole run, not per round) "
                              "over which the learning rate rises linearly from 0 to learning_rate.")
    batch_size: int = Field(default=8, ge=1, description="Pairs per DPO step.")
    epochs: int = Field(default=1, ge=1, description="Passes over each round's training pairs.")
    lora: bool = Field(default=True, description="Train LoRA adapters (real students) or all weights (tiny).")
    lora_r: int = Field(default=16, ge=1, description="LoRA rank.")
    probe_size: int = Field(default=200, ge=0, description="Train-split items scored greedily after each round.")
    seed: int = Field(default=0, description="First training seed: seed of prompt sampling, candidate sampling and "
                      "training of the first run; run i of ``seeds`` uses seed + i.")
    seeds: int = Field(default=3, ge=1, description="Self-DPO training runs per (verifier, student), each from the "
                       "same frozen student with its own seed: the outcome is their mean, its CI covers both the test "
                       "items and the seed-to-seed spread.")

    def training_seeds(self) -> tuple[int, ...]:
        """The seeds of the ``seeds`` training runs."""
        return tuple(self.seed + i for i in range(self.seeds))

    @model_validator(mode="after")
    def _check(self) -> SelfDPOConfig:
        unknown = set(self.loss_type) - {"sigmoid", "hinge", "ipo", "robust", "sft", "bco_pair", "apo_zero"}
        if unknown:
            raise ValueError(f"loss_type {sorted(unknown)} not supported")
        return self


class DecodingConfig(Strict):
    """What the protocol decides about every student generation (audit candidates, self-DPO candidates, probes,
    evaluation), whatever the checkpoint's ``generation_config.json`` says. Published checkpoints ship sampling
    defaults that ``generate`` applies to every call not naming them (Qwen3-VL: temperature 0.7, top_p 0.8, top_k 20;
    Qwen2.5-VL: temperature 1e-6, repetition_penalty 1.05): K "sampled" candidates could be one greedy answer, and a
    repetition penalty changes exact-match answers. Temperature, top-p and the answer length are each stage's own
    (:class:`AuditConfig`, :class:`SelfDPOConfig`, ``eval_max_new_tokens``); evaluation and probes are greedy."""

    top_k: int = Field(default=0, ge=0, description="Top-k of sampled candidates; 0: off (nucleus sampling alone).")
    repetition_penalty: float = Field(default=1.0, gt=0, description="1.0: no repetition penalty.")
    keep_from_checkpoint: tuple[Literal["bos_token_id", "eos_token_id", "pad_token_id"], ...] = Field(
        default=("bos_token_id", "eos_token_id", "pad_token_id"),
        description="The generation_config.json fields the checkpoint still decides: which tokens start, end (EOS: "
        "Qwen's list [<|im_end|>, <|endoftext|>]) and pad a sequence. Every other default is replaced.")


class EvalConfig(Strict):
    """Stage 3: how a student is evaluated (greedy, exact match); not a protocol field of its own (the protocol's
    ``eval_max_new_tokens`` sets the answer length, its ``decoding`` the rest: :meth:`ProtocolConfig.eval_config`)."""

    batch_size: int = Field(default=16, ge=1, description="Prompts per generate() call.")
    max_new_tokens: MaxNewTokens = 16
    decoding: DecodingConfig = Field(default_factory=DecodingConfig)
