"""The verifier backend interface: judge (images, rubric prompt) requests, return raw text.

A backend only produces the verifier's raw output and its token counts; parsing the verdict
(:mod:`harness.stages.verdict`) and comparing with the truth happen in the audit stage, the
same for every backend. A failed request (timeout, HTTP error, CUDA OOM on one batch) becomes a
:class:`RawJudgment` with ``error`` set, never an exception that loses the other judgments.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from harness.submission import Manifest


#: The JSON schema of a rubric answer under structured output (``judging.structured``): one number, the score. The
#: range [0, 1] is left to the verdict parser (which records a score outside it as a parse failure): OpenAI's strict
#: mode has not always accepted ``minimum``/``maximum``.
VERDICT_JSON_SCHEMA: dict = {
    "type": "object",
    "properties": {"score": {"type": "number"}},
    "required": ["score"],
    "additionalProperties": False,
}


def structured_output(manifest) -> bool:
    """Whether the manifest asks for its text answers constrained to :data:`VERDICT_JSON_SCHEMA`."""
    judging = manifest.judging
    return judging is not None and judging.mode == "text" and judging.structured


class JudgeRequest(BaseModel):
    """One candidate answer to be judged."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    item_id: str
    candidate_index: int = Field(ge=0)
    student: str = Field(default="", description="Whose candidate this is (part of the request's identity).")
    images: list[Image.Image] = Field(repr=False)
    prompt: str = Field(description="The rendered rubric prompt (question + candidate answer).")
    question: str | None = Field(default=None, repr=False, description="The task's question alone (what a reward "
                                 "model reads, with ``candidate``, instead of the rubric prompt).")
    candidate: str | None = Field(default=None, repr=False, description="The candidate answer alone.")
    truth: bool | None = Field(
        default=None, repr=False,
        description="The exact-match truth; only the simulated backend reads it (to simulate a verifier).",
    )


class RawJudgment(BaseModel):
    """What the verifier returned for one request."""

    model_config = ConfigDict(frozen=True)

    text: str | None = Field(description="Raw verifier output; None when the request failed.")
    error: str | None = Field(default=None, description="Why the request failed (backend error).")
    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    simulated: bool = Field(default=False, description="True when no real verifier produced this output.")


class VerifierBackend(ABC):
    """A way to run a verifier. Subclasses register with :data:`harness.verifiers.BACKENDS`."""

    name: ClassVar[str]
    #: The manifest section the backend reads its settings from ("model", "endpoint", "simulated"); manifest
    #: validation requires it. None: the backend needs no section.
    section: ClassVar[str | None] = None
    #: Whether the backend holds this worker's accelerator while judging: its time counts as device time, and the
    #: dry run estimates its GPU-hours from the judge model's size (the manifest's ``model``).
    uses_device: ClassVar[bool] = False
    #: Whether someone else's server judges (an endpoint billed by its owner, not in the protocol's GPU-hours).
    remote: ClassVar[bool] = False
    #: The manifest's ``judging.mode`` values this backend implements, its default first ("text": the rubric answer
    #: is parsed for a score; "logprob": the score is P(yes) / (P(yes) + P(no)) of the answer's first token;
    #: "reward": a reward model's own head scores the question and the answer, no rubric).
    judging_modes: ClassVar[tuple[str, ...]] = ("text",)

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest

    @abstractmethod
    def judge(self, requests: Sequence[JudgeRequest]) -> list[RawJudgment]:
        """Judge a batch; returns one judgment per request, in order."""

    def close(self) -> None:  # noqa: B027 - optional hook; most backends hold nothing to release
        """Release models, sessions or servers."""

    def __enter__(self) -> VerifierBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
