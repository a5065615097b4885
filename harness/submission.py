"""The submission manifest: one YAML file describing a verifier, validated strictly.

Unknown fields are refused (a typo must not silently fall back to a default); every error
names the file and the field. Names and free text are user-controlled and shown on a public
site, so they are checked for control characters and length here and escaped on output.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.config import DType, ModelRef
from harness.config import digest as canonical_digest

MAX_MANIFEST_BYTES = 64 * 1024
MAX_NAME = 80
# Free text may hold tabs and newlines, but no other control character (C0, DEL, C1) and no bidi control, which
# would reorder how the text around it is shown.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Scripts written together in one language (Japanese, Korean) count as one script in a name.
_SCRIPT_GROUPS = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "KATAKANA-HIRAGANA": "CJK", "HANGUL": "CJK"}


def _codepoint(ch: str) -> str:
    return f"U+{ord(ch):04X} {unicodedata.name(ch, '')}".rstrip()


def _script(ch: str) -> str:
    word = unicodedata.name(ch, "?").split()[0]  # "CYRILLIC SMALL LETTER A" -> CYRILLIC
    return _SCRIPT_GROUPS.get(word, word)


def _clean_line(value: str) -> str:
    """The name rule (name, family, release, owner). Names are shown on a public site and group releases into
    families, so a name that looks like another one must be the same string, or refused.

    A name is NFKC-normalised (full-width and styled letters become the letters they imitate, a no-break space a
    space) and stripped. It may then hold letters (and non-ASCII digits) of one script, with their combining marks
    (CJK ideographs, kana and Hangul count as one script, which may mix with Latin: Unicode UTS #39's "highly
    restrictive" level), ASCII digits, punctuation and space, and other symbols such as ✓. Refused, each named by
    its codepoint (U+200B ...): control, format (zero-width, bidi), private-use, surrogate and unassigned
    characters; non-ASCII spaces, punctuation and math or currency signs (U+2010 HYPHEN passes for '-'); letters
    of a second script (Cyrillic U+0430 passes for Latin 'a').
    """
    value = unicodedata.normalize("NFKC", value).strip()
    if not value:  # min_length is checked before the strip: "   " would become an empty name
        raise ValueError("must not be blank")
    if len(value) > MAX_NAME:
        raise ValueError(f"must have at most {MAX_NAME} characters once NFKC-normalised (has {len(value)})")
    scripts: dict[str, str] = {}  # script -> its first character in the name
    for ch in value:
        kind = unicodedata.category(ch)
        if kind == "Cc":
            raise ValueError(f"must be a single line without control characters: {_codepoint(ch)} refused")
        if kind == "Cf":
            raise ValueError(f"must not contain invisible format (zero-width, bidi) characters: {_codepoint(ch)} "
                             "refused")
        if kind[0] == "C":
            raise ValueError(f"must not contain private-use, surrogate or unassigned characters: {_codepoint(ch)} "
                             "refused")
        if kind[0] == "L" or (kind[0] == "N" and not ch.isascii()):
            scripts.setdefault(_script(ch), ch)
        elif not (ch.isascii() or kind[0] == "M" or kind == "So"):
            raise ValueError(f"must not contain {_codepoint(ch)}: a name's spaces and punctuation are ASCII")
    if len(scripts) > 1 and set(scripts) != {"LATIN", "CJK"}:  # Latin among CJK imitates nothing (UTS #39)
        raise ValueError("must not mix letters of different scripts: "
                         + ", ".join(f"{_codepoint(ch)} is {script}" for script, ch in scripts.items()))
    return value


def _clean_text(value: str) -> str:
    if found := _CONTROL.search(value):
        raise ValueError(f"must not contain control or bidi characters: {_codepoint(found.group())} refused")
    return value


Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME), AfterValidator(_clean_line)]
Text = Annotated[str, Field(max_length=4000), AfterValidator(_clean_text)]


class ManifestError(ValueError):
    """A manifest could not be read or validated; the message names the file and the fields.

    ``fields`` lists ``(field path, problem)`` for validation errors (empty when the file itself is unreadable),
    for callers that report errors field by field (the submissions API).
    """

    def __init__(self, message: str, fields: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or []


class _Strict(BaseModel):
    # allow_inf_nan=False: an infinite or NaN price or rate is no measurement, and PostgreSQL's JSON refuses it.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Generation(_Strict):
    """How the verifier generates its rubric answer."""

    max_new_tokens: int = Field(default=64, ge=1, le=4096, description="Longest verifier answer.")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="0 = greedy.")
    top_p: float = Field(default=1.0, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    batch_size: int = Field(default=16, ge=1, le=1024, description="Requests per backend call.")


class Endpoint(_Strict):
    """An OpenAI-compatible chat-completions endpoint (a vLLM server or a hosted judge)."""

    base_url: Annotated[str, Field(pattern=r"^https?://[^\s]+$", max_length=500)]
    model: Name = Field(description="The model name the endpoint expects.")
    api_key_env: str | None = Field(
        default=None, pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="Environment variable holding the API key (never the key itself).",
    )
    timeout_s: float = Field(default=60.0, gt=0, le=3600, description="Per-request timeout.")
    max_retries: int = Field(default=3, ge=0, le=10, description="Retries with backoff on errors.")
    concurrency: int = Field(default=8, ge=1, le=256, description="Requests in flight at once.")


class Judging(_Strict):
    """How a generative judge's answer becomes a score. ``text`` (the default): the rubric asks for a score and the
    answer is parsed (:mod:`harness.stages.verdict`). ``logprob``: the rubric (the manifest's own
    ``rubric_template``) asks a yes/no question, and the score is P(yes) / (P(yes) + P(no)) over the first answer
    token's top log-probabilities: a calibrated score that never fails to parse."""

    mode: Literal["text", "logprob"] = Field(default="text", description="text: parse a score from the answer; "
                                             "logprob: P(yes) / (P(yes) + P(no)) of the first answer token.")
    yes_tokens: tuple[Name, ...] = Field(default=("Yes",), min_length=1, max_length=16, description="Tokens that "
                                         "mean yes; compared without surrounding spaces and case ('Yes', ' yes', "
                                         "'YES' are one).")
    no_tokens: tuple[Name, ...] = Field(default=("No",), min_length=1, max_length=16,
                                        description="Tokens that mean no, compared likewise.")
    top_logprobs: int = Field(default=20, ge=1, le=20, description="Alternatives requested for the first token "
                              "(OpenAI's top_logprobs; 20 is its maximum).")
    # exclude_if: a judging section without it dumps, and so hashes, as before the field existed.
    structured: bool = Field(
        default=False, exclude_if=lambda v: not v,
        description="mode text only: constrain the answer to the verdict's JSON schema, {\"score\": number} "
        "(harness.verifiers.base.VERDICT_JSON_SCHEMA), so that parse failures measure the model, not the sampler. "
        "openai: response_format json_schema (strict); vllm: structured outputs (StructuredOutputsParams(json=...)); "
        "hf: transformers has no constrained decoder, so the answer is generated unconstrained and parsed as always "
        "(the documented fallback; its parse failures stay the model's).")

    @model_validator(mode="after")
    def _disjoint(self) -> Judging:
        if self.structured and self.mode != "text":
            raise ValueError(f"structured output constrains a text answer; mode {self.mode!r} reads no text")
        both = {t.strip().casefold() for t in self.yes_tokens} & {t.strip().casefold() for t in self.no_tokens}
        if both:
            raise ValueError(f"yes_tokens {list(self.yes_tokens)} and no_tokens {list(self.no_tokens)} share "
                             f"{sorted(both)}")
        return self


class Reward(_Strict):
    """A scalar reward model (backend ``reward_model``): where its checkpoint keeps the value head, and how a raw
    reward becomes the score in [0, 1] that the rubric verdict (score >= the protocol's threshold) and the replay
    gate (score margins) read: ``score = 1 / (1 + exp(-(reward - offset) / scale))``. Scale and offset are declared
    here, before the audit, by the submitter (e.g. from the model card or the submitter's own data); the harness
    never fits them on audit labels. The raw reward is kept beside the score in every judgment."""

    head_file: str = Field(default="value_head.safetensors", pattern=r"^[\w.-]+\.safetensors$", max_length=100,
                           description="The value head's file in the checkpoint (safetensors only: a pickle could run "
                           "code), holding 'v_head.summary.weight' [1, hidden] and 'v_head.summary.bias' [1] (TRL's "
                           "value head, as Skywork-VL-Reward and LLaMA-Factory's reward-model exports save it).")
    scale: float = Field(default=1.0, gt=0, le=1e6, description="Reward units per logit of the score.")
    offset: float = Field(default=0.0, ge=-1e6, le=1e6, description="The reward that maps to a score of 0.5.")


class Simulated(_Strict):
    """A simulated verifier: reads the truth and agrees with it at a set rate (harness validation)."""

    agreement: float = Field(ge=0.0, le=1.0, description="Probability each verdict agrees with the truth.")
    confidence: Literal["confident", "moderate", "uncertain"] = Field(
        default="confident",
        description="Score profile: confident = near 0/1, moderate = 0.2-0.8, uncertain = near 0.5.",
    )
    seed: int = Field(default=0, description="Seed of the simulated verdicts.")


class CostBasis(_Strict):
    """Prices used to turn usage into dollars; stored with every result so old rows never change."""

    kind: Literal["gpu", "api", "none"] = Field(description="gpu: $/GPU-hour; api: $/1M tokens; none: free.")
    gpu_type: Name | None = Field(default=None, description="e.g. 'H100-80GB'.")
    usd_per_gpu_hour: float | None = Field(default=None, ge=0)
    usd_per_1m_input_tokens: float | None = Field(default=None, ge=0)
    usd_per_1m_output_tokens: float | None = Field(default=None, ge=0)
    priced_on: date = Field(description="When the prices were taken.")

    @model_validator(mode="after")
    def _prices_match_kind(self) -> CostBasis:
        if self.kind == "gpu" and (self.usd_per_gpu_hour is None or not self.gpu_type):
            raise ValueError(f"kind 'gpu' needs gpu_type ({self.gpu_type!r}) and usd_per_gpu_hour "
                             f"({self.usd_per_gpu_hour!r})")
        if self.kind == "api" and (self.usd_per_1m_input_tokens is None or self.usd_per_1m_output_tokens is None):
            raise ValueError(f"kind 'api' needs usd_per_1m_input_tokens ({self.usd_per_1m_input_tokens!r}) and "
                             f"usd_per_1m_output_tokens ({self.usd_per_1m_output_tokens!r})")
        return self


class Manifest(_Strict):
    """A verifier submission."""

    name: Name = Field(description="Verifier name shown on the leaderboard.")
    family: Name = Field(description="Verifier family; releases of one family are compared.")
    release: Name = Field(description="Version of this release, e.g. '2026.11' or 'v3'.")
    backend: str = Field(description="A registered verifier backend (harness.verifiers): hf, vllm, openai, "
                         "reward_model, simulated.")
    model: ModelRef | None = Field(default=None, description="Hub id + revision or local folder (hf, vllm, "
                                  "reward_model).")
    endpoint: Endpoint | None = Field(default=None, description="Chat-completions endpoint (openai).")
    simulated: Simulated | None = Field(default=None, description="Simulation settings (simulated).")
    reward: Reward | None = Field(default=None, exclude_if=lambda v: v is None,
                                  description="Value head and reward-to-score mapping (reward_model).")
    dtype: DType = Field(default="bfloat16", description="Weights dtype (hf, vllm).")
    generation: Generation = Field(default_factory=Generation)
    # exclude_if: a manifest without the section dumps, and so hashes, exactly as before the section existed.
    judging: Judging | None = Field(default=None, exclude_if=lambda v: v is None,
                                    description="How the answer becomes a score (default: text).")
    rubric_template: Text | None = Field(
        default=None, description="Jinja2 rubric prompt with {{ question }} and {{ candidate }}; "
        "default: the protocol's task-agnostic rubric.",
    )
    parameters: int | None = Field(default=None, ge=0, le=2**63 - 1,
                                   description="Parameter count of the verifier (a 64-bit integer column).")
    cost: CostBasis
    owner: Name
    notes: Text = ""

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        try:
            backend_class(value)  # unknown backend -> "did you mean" error
        except KeyError as err:  # UnknownNameError is a KeyError, which pydantic does not wrap
            raise ValueError(str(err)) from None
        return value

    @model_validator(mode="after")
    def _backend_settings(self) -> Manifest:
        backend = backend_class(self.backend)
        needs = backend.section  # each backend names the section it reads
        if needs is not None and getattr(self, needs) is None:
            raise ValueError(f"backend {self.backend!r} needs the '{needs}' section")
        if backend.judging_modes == ("reward",):  # a reward model scores (question, answer) itself
            if self.judging is not None or self.rubric_template is not None:
                raise ValueError(f"backend {self.backend!r} scores the question and the answer with its own head: "
                                 "it takes no judging section and no rubric_template")
        elif self.reward is not None:
            raise ValueError(f"the 'reward' section is for backend 'reward_model', not {self.backend!r}")
        mode = self.judging_mode
        if mode not in backend.judging_modes:
            raise ValueError(f"judging.mode {mode!r} is not implemented by backend {self.backend!r} (it judges by "
                             f"{', '.join(backend.judging_modes)})")
        if mode == "logprob" and self.rubric_template is None:
            raise ValueError("judging.mode 'logprob' needs a rubric_template that asks a yes/no question (the "
                             "protocol's default rubric asks for a JSON score)")
        if self.rubric_template is not None:
            from jinja2 import TemplateSyntaxError
            from jinja2.sandbox import SandboxedEnvironment

            try:
                SandboxedEnvironment().parse(self.rubric_template)
            except TemplateSyntaxError as err:
                raise ValueError(f"rubric_template is not valid Jinja2: {err.message} (line {err.lineno})") from None
            for var in ("question", "candidate"):
                if not re.search(r"\{\{\s*" + var + r"\s*\}\}", self.rubric_template):
                    raise ValueError(f"rubric_template must use {{{{ {var} }}}}")
        return self

    @property
    def judging_mode(self) -> str:
        """How this verifier's output becomes a score: the judging section's mode, else the backend's default
        ("text" for generative judges, "reward" for reward models)."""
        return self.judging.mode if self.judging else backend_class(self.backend).judging_modes[0]

    @property
    def reward_settings(self) -> Reward:
        """The reward section, or its defaults when the manifest gives none (backend reward_model)."""
        return self.reward or Reward()

    @property
    def is_simulated(self) -> bool:
        return self.backend == "simulated"

    def digest(self) -> str:
        """sha256 of the canonical JSON form: equal manifests hash equal, whatever the YAML layout."""
        return canonical_digest(self.model_dump(mode="json"))


def backend_class(name: str):
    """The verifier backend class registered as ``name`` (its description: section, device use, remoteness);
    raises :class:`harness.registry.UnknownNameError` with "did you mean" for an unknown name."""
    from harness.verifiers import BACKENDS

    return BACKENDS.get(name)


def _error_fields(err: ValidationError) -> list[tuple[str, str]]:
    return [(".".join(str(p) for p in e["loc"]) or "(top level)", e["msg"]) for e in err.errors()]


def parse_manifest(data: Any, source: str = "<manifest>") -> Manifest:
    """Validate already-loaded manifest data (e.g. from an API request)."""
    if not isinstance(data, dict):
        raise ManifestError(f"{source}: a manifest must be a mapping of fields, got {type(data).__name__}")
    try:
        return Manifest.model_validate(data)
    except ValidationError as err:
        fields = _error_fields(err)
        lines = "\n".join(f"  {where}: {msg}" for where, msg in fields)
        raise ManifestError(f"{source}: invalid manifest\n{lines}", fields) from None


MAX_YAML_DEPTH = 16  # a manifest nests 3 deep
MAX_YAML_INT_DIGITS = 40


class _ManifestLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` bounded for hostile text (an API body is one), so that every bad manifest is a
    ``yaml.YAMLError`` with its line, never a crash: deep nesting recurses past Python's limit (after seconds of
    parsing), an alias can stand for billions of nodes (a manifest needs none), and ``int()`` of 4,300+ digits
    raises ValueError."""

    depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in a manifest",
                                              event.start_mark)
        if self.depth >= MAX_YAML_DEPTH:
            raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_YAML_DEPTH} levels",
                                              event.start_mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_yaml_int(self, node):
        if len(node.value) > MAX_YAML_INT_DIGITS:
            raise yaml.constructor.ConstructorError(None, None, f"an integer of {len(node.value)} digits is too "
                                                    f"long (at most {MAX_YAML_INT_DIGITS})", node.start_mark)
        return super().construct_yaml_int(node)


_ManifestLoader.add_constructor("tag:yaml.org,2002:int", _ManifestLoader.construct_yaml_int)


def load_manifest_text(text: str, source: str = "<manifest>") -> Manifest:
    if len(text.encode()) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"{source}: manifest larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        data = yaml.load(text, Loader=_ManifestLoader)  # a SafeLoader: builds plain data only
    except yaml.YAMLError as err:
        raise ManifestError(f"{source}: not valid YAML: {err}") from None
    return parse_manifest(data, source)


def load_manifest(path: str | Path) -> Manifest:
    """Read and validate a manifest file."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as err:
        raise ManifestError(f"{path}: cannot read: {err.strerror}") from None
    if size > MAX_MANIFEST_BYTES:
        raise ManifestError(f"{path}: manifest larger than {MAX_MANIFEST_BYTES} bytes ({size})")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:  # a folder, no permission, ...
        raise ManifestError(f"{path}: cannot read: {err.strerror}") from None
    return load_manifest_text(text, str(path))
