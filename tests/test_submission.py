"""Submission manifests: valid ones load; invalid ones are refused with the file and field named."""

from __future__ import annotations

import copy
import re
from datetime import date
from pathlib import Path

import pytest
import yaml

from harness.submission import (
    MAX_MANIFEST_BYTES,
    Manifest,
    ManifestError,
    load_manifest,
    load_manifest_text,
    parse_manifest,
)

REPO = Path(__file__).resolve().parents[1]

HF_YAML = """\
name: acme-judge
family: acme-judge
release: v3
backend: hf
model:
  hub_id: acme/judge-vl-7b
  revision: 0123456789abcdef0123456789abcdef01234567
dtype: float16
generation:
  max_new_tokens: 128
  batch_size: 4
parameters: 7000000000
cost:
  kind: gpu
  gpu_type: H100-80GB
  usd_per_gpu_hour: 2.5
  priced_on: 2026-10-01
owner: acme-lab
"""

OPENAI_YAML = """\
name: hosted-judge
family: hosted-judge
release: "2026.11"
backend: openai
endpoint:
  base_url: https://api.example.com/v1
  model: judge-large
  api_key_env: JUDGE_API_KEY
  timeout_s: 30
  concurrency: 16
cost:
  kind: api
  usd_per_1m_input_tokens: 0.5
  usd_per_1m_output_tokens: 1.5
  priced_on: 2026-11-01
owner: someone
notes: |
  Multi-line notes
  are fine.
"""


def _simulated() -> dict:
    return {
        "name": "sim",
        "family": "sim",
        "release": "1",
        "backend": "simulated",
        "simulated": {"agreement": 0.9},
        "cost": {"kind": "none", "priced_on": "2026-11-26"},
        "owner": "me",
    }


def _write(tmp_path: Path, text: str, name: str = "verifier.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _refusal(tmp_path: Path, data: dict | str) -> tuple[str, str]:
    """Load ``data`` (a dict is dumped as YAML) from a file; return (file path, error message)."""
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    path = _write(tmp_path, text)
    with pytest.raises(ManifestError) as err:
        load_manifest(path)
    return str(path), str(err.value)


# ---------------------------------------------------------------------------------------- valid


def test_demo_manifest_loads():
    path = REPO / "submissions" / "demo" / "strong.yaml"
    m = load_manifest(path)
    assert m.name == "demo-strong"
    assert m.backend == "simulated" and m.is_simulated
    assert m.simulated is not None
    assert m.simulated.agreement == pytest.approx(0.92)
    assert m.simulated.confidence == "confident"
    assert m.cost.kind == "none"
    assert m.cost.priced_on == date(2026, 11, 26)
    assert m.model is None and m.endpoint is None
    # defaults
    assert m.dtype == "bfloat16"
    assert m.generation.max_new_tokens == 64 and m.generation.temperature == 0.0
    assert m.rubric_template is None


@pytest.mark.parametrize("path", sorted((REPO / "submissions" / "demo").glob("*.yaml")), ids=lambda p: p.name)
def test_every_demo_manifest_loads(path):
    assert load_manifest(path).is_simulated


def test_hf_manifest(tmp_path):
    m = load_manifest(_write(tmp_path, HF_YAML))
    assert m.backend == "hf" and not m.is_simulated
    assert m.model is not None
    assert m.model.hub_id == "acme/judge-vl-7b"
    assert m.model.revision == "0123456789abcdef0123456789abcdef01234567"
    assert m.dtype == "float16"
    assert m.generation.max_new_tokens == 128 and m.generation.batch_size == 4
    assert m.generation.top_p == 1.0  # unset field keeps its default
    assert m.parameters == 7_000_000_000
    assert m.cost.kind == "gpu" and m.cost.gpu_type == "H100-80GB"
    assert m.cost.usd_per_gpu_hour == pytest.approx(2.5)


def test_vllm_manifest_with_local_model_folder(tmp_path):
    data = yaml.safe_load(HF_YAML)
    data["backend"] = "vllm"
    data["model"] = {"path": str(tmp_path / "model")}
    m = parse_manifest(data)
    assert m.model is not None and m.model.path == tmp_path / "model" and m.model.hub_id is None


def test_openai_manifest(tmp_path):
    m = load_manifest(_write(tmp_path, OPENAI_YAML))
    assert m.backend == "openai"
    assert m.endpoint is not None
    assert m.endpoint.base_url == "https://api.example.com/v1"
    assert m.endpoint.model == "judge-large"
    assert m.endpoint.api_key_env == "JUDGE_API_KEY"
    assert m.endpoint.timeout_s == 30 and m.endpoint.concurrency == 16
    assert m.endpoint.max_retries == 3  # default
    assert m.release == "2026.11"
    assert m.cost.usd_per_1m_output_tokens == pytest.approx(1.5)
    assert m.notes == "Multi-line notes\nare fine.\n"  # free text may span lines


def test_load_manifest_text_and_parse_manifest_agree(tmp_path):
    from_file = load_manifest(_write(tmp_path, HF_YAML))
    assert load_manifest_text(HF_YAML) == from_file
    assert parse_manifest(yaml.safe_load(HF_YAML)) == from_file


def test_valid_rubric_template():
    data = _simulated() | {"rubric_template": "Q: {{question}}\nA: {{ candidate }}\nReply with JSON."}
    assert parse_manifest(data).rubric_template is not None


def test_markup_in_a_name_is_accepted_verbatim():
    # Escaped on output, not refused here.
    m = parse_manifest(_simulated() | {"name": "<script>alert(1)</script>", "notes": "<b>bold</b> & 'quotes'"})
    assert m.name == "<script>alert(1)</script>"
    assert m.notes == "<b>bold</b> & 'quotes'"


def test_name_is_stripped_and_may_be_80_chars():
    assert parse_manifest(_simulated() | {"name": "  padded  "}).name == "padded"
    assert parse_manifest(_simulated() | {"name": "n" * 80}).name == "n" * 80
    assert parse_manifest(_simulated() | {"name": "vérificateur ✓"}).name == "vérificateur ✓"


def test_manifest_is_immutable():
    m = parse_manifest(_simulated())
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance ValidationError
        m.name = "other"  # type: ignore[misc]


# ---------------------------------------------------------------------------------------- refused


def test_bad_yaml_names_the_file(tmp_path):
    path, msg = _refusal(tmp_path, "name: sim\nsimulated: {agreement: 0.9\nowner: [me\n")
    assert msg.startswith(path)
    assert "not valid YAML" in msg
    assert "line" in msg  # the YAML error says where


@pytest.mark.parametrize(
    ("text", "kind"),
    [("- name: sim\n- owner: me\n", "list"), ("just a string\n", "str"), ("42\n", "int"), ("", "NoneType")],
)
def test_not_a_mapping(tmp_path, text, kind):
    path, msg = _refusal(tmp_path, text)
    assert msg.startswith(path)
    assert "must be a mapping" in msg and kind in msg


# (change to the valid simulated manifest, fields the message must name, another fragment it must hold)
FIELD_ERRORS = [
    # unknown top-level fields: typos must not fall back to defaults
    (lambda d: d.update(ownr="me"), ["ownr"], "Extra inputs are not permitted"),
    (lambda d: d.update(note="typo of notes"), ["note"], "Extra inputs are not permitted"),
    (lambda d: d.update(generaton={"max_new_tokens": 8}), ["generaton"], "Extra inputs"),
    # unknown nested fields
    (lambda d: d["simulated"].update(agreemnt=0.5), ["simulated.agreemnt"], "Extra inputs"),
    (lambda d: d.update(generation={"max_tokens": 8}), ["generation.max_tokens"], "Extra inputs"),
    (lambda d: d["cost"].update(usd_per_hour=1.0), ["cost.usd_per_hour"], "Extra inputs"),
    # missing required fields
    (lambda d: d.pop("owner"), ["owner"], "Field required"),
    (lambda d: d["cost"].pop("priced_on"), ["cost.priced_on"], "Field required"),
    (lambda d: d.pop("cost"), ["cost"], "Field required"),
    # wrong types and ranges
    (lambda d: d["simulated"].update(agreement="high"), ["simulated.agreement"], "valid number"),
    (lambda d: d["simulated"].update(agreement=1.5), ["simulated.agreement"], "less than or equal to 1"),
    (lambda d: d.update(generation={"max_new_tokens": "many"}), ["generation.max_new_tokens"], "valid integer"),
    (lambda d: d.update(generation={"max_new_tokens": 0}), ["generation.max_new_tokens"], "greater than"),
    (lambda d: d.update(generation={"temperature": 3}), ["generation.temperature"], "less than or equal"),
    (lambda d: d.update(parameters=-1), ["parameters"], "greater than or equal to 0"),
    (lambda d: d.update(parameters=1.5), ["parameters"], "integer"),
    (lambda d: d.update(dtype="int4"), ["dtype"], "bfloat16"),
    (lambda d: d["simulated"].update(confidence="sure"), ["simulated.confidence"], "confident"),
    (lambda d: d.update(name=["a", "b"]), ["name"], "valid string"),
    (lambda d: d.update(name=""), ["name"], "at least 1 character"),
    (lambda d: d.update(simulated=[0.9]), ["simulated"], "dictionary"),
    (lambda d: d["cost"].update(kind="free"), ["cost.kind"], "'gpu', 'api' or 'none'"),
    (lambda d: d["cost"].update(priced_on="yesterday"), ["cost.priced_on"], "date"),
    # cost basis without its prices: both missing fields are named
    (lambda d: d.update(cost={"kind": "gpu", "gpu_type": "H100", "priced_on": "2026-11-01"}),
     ["cost", "gpu_type", "usd_per_gpu_hour"], "kind 'gpu'"),
    (lambda d: d.update(cost={"kind": "gpu", "usd_per_gpu_hour": 2.0, "priced_on": "2026-11-01"}),
     ["cost", "gpu_type", "usd_per_gpu_hour"], "kind 'gpu'"),
    (lambda d: d.update(cost={"kind": "api", "usd_per_1m_input_tokens": 1.0, "priced_on": "2026-11-01"}),
     ["cost", "usd_per_1m_input_tokens", "usd_per_1m_output_tokens"], "kind 'api'"),
    (lambda d: d["cost"].update(usd_per_gpu_hour=-1), ["cost.usd_per_gpu_hour"], "greater than or equal"),
    # backends and their sections
    (lambda d: d.update(backend="hf"), ["backend", "'model'"], "needs"),
    (lambda d: d.update(backend="vllm"), ["backend", "'model'"], "needs"),
    (lambda d: d.update(backend="openai"), ["backend", "'endpoint'"], "needs"),
    (lambda d: d.pop("simulated"), ["backend", "'simulated'"], "needs"),
    # a hub model must pin a revision; exactly one source
    (lambda d: d.update(backend="hf", model={"hub_id": "acme/judge"}), ["model", "revision"], "acme/judge"),
    (lambda d: d.update(backend="hf", model={"hub_id": "acme/judge", "revision": ""}), ["model", "revision"],
     "pinned"),
    (lambda d: d.update(backend="hf", model={"hub_id": "a/b", "revision": "main", "path": "/m"}),
     ["model", "hub_id", "path"], "exactly one"),
    (lambda d: d.update(backend="hf", model={"hub_id": "a/b", "revison": "main"}), ["model.revison"], "Extra"),
    # endpoint
    (lambda d: d.update(backend="openai", endpoint={"base_url": "ftp://x", "model": "m"}),
     ["endpoint.base_url"], "pattern"),
    (lambda d: d.update(backend="openai", endpoint={"base_url": "https://x/v1"}), ["endpoint.model"], "required"),
    # the key itself instead of the name of the variable holding it
    (lambda d: d.update(backend="openai", endpoint={"base_url": "https://x/v1", "model": "m",
                                                     "api_key_env": "sk-abc123"}),
     ["endpoint.api_key_env"], "pattern"),
    # hostile strings
    (lambda d: d.update(name="evil\nname"), ["name"], "single line"),
    (lambda d: d.update(name="evil\rname"), ["name"], "single line"),
    (lambda d: d.update(name="evil\x00name"), ["name"], "control"),
    (lambda d: d.update(name="evil\x1bname"), ["name"], "control"),
    (lambda d: d.update(name="gpj.\u202eexe"), ["name"], "bidi"),
    (lambda d: d.update(name="a\u2066b"), ["name"], "bidi"),
    (lambda d: d.update(owner="own\u202eer"), ["owner"], "bidi"),
    (lambda d: d.update(family="fam\x07ily"), ["family"], "control"),
    (lambda d: d.update(name="n" * 81), ["name"], "at most 80 characters"),
    (lambda d: d.update(name="   "), ["name"], "blank"),
    (lambda d: d.update(notes="fine\x00hidden"), ["notes"], "control"),
    (lambda d: d.update(notes="swap\u202edirection"), ["notes"], "bidi"),
    (lambda d: d.update(notes="x" * 4001), ["notes"], "at most 4000 characters"),
    # rubric templates
    (lambda d: d.update(rubric_template="Q: {{ question }} Reply with JSON."), ["rubric_template"],
     "{{ candidate }}"),
    (lambda d: d.update(rubric_template="A: {{ candidate }}"), ["rubric_template"], "{{ question }}"),
    (lambda d: d.update(rubric_template="Q: {{ question }} A: {{ candidate }} {% if %}"), ["rubric_template"],
     "not valid Jinja2"),
    (lambda d: d.update(rubric_template="Q: {{ question }} A: {{ candidate }"), ["rubric_template"],
     "not valid Jinja2"),
]


@pytest.mark.parametrize(("change", "fields", "fragment"), FIELD_ERRORS)
def test_refusal_names_file_and_field(tmp_path, change, fields, fragment):
    data = copy.deepcopy(_simulated())
    change(data)
    path, msg = _refusal(tmp_path, data)
    assert msg.startswith(f"{path}: invalid manifest")
    for field in fields:
        assert field in msg, f"{field!r} not in {msg!r}"
    assert fragment in msg


def test_unknown_backend_suggests_the_closest(tmp_path):
    data = _simulated() | {"backend": "simulatd"}
    path, msg = _refusal(tmp_path, data)
    assert msg.startswith(path)
    assert re.search(r"^  backend: .*Unknown verifier backend 'simulatd'\. Did you mean 'simulated'\?", msg, re.M), msg
    with pytest.raises(ManifestError, match="Did you mean 'openai'"):
        parse_manifest(_simulated() | {"backend": "openia"}, "api-request")


def test_unknown_backend_is_reported_alongside_other_errors(tmp_path):
    # A manifest with a typo'd backend and missing fields gets both complaints at once.
    path, msg = _refusal(tmp_path, "name: x\nbackend: simulted\n")
    assert msg.startswith(path)
    assert "Did you mean 'simulated'?" in msg
    assert re.search(r"^  owner: Field required", msg, re.M), msg


def test_unknown_backend_without_close_match_lists_the_known_ones():
    with pytest.raises(ManifestError, match=r"Known: hf, openai, reward_model, simulated, vllm") as err:
        parse_manifest(_simulated() | {"backend": "zzzzzz"}, "req")
    assert "Did you mean" not in str(err.value)


def test_parse_manifest_names_its_source():
    with pytest.raises(ManifestError, match=r"^upload #42: invalid manifest\n  ownr: "):
        parse_manifest(_simulated() | {"ownr": "x"}, source="upload #42")
    with pytest.raises(ManifestError, match=r"^<manifest>: a manifest must be a mapping"):
        parse_manifest(["not", "a", "mapping"])


def test_every_problem_is_reported_at_once(tmp_path):
    data = _simulated() | {"ownr": "x", "dtype": "int4"}
    data.pop("family")
    _, msg = _refusal(tmp_path, data)
    for field in ("ownr", "dtype", "family"):
        assert re.search(rf"^  {field}: ", msg, re.MULTILINE), msg


@pytest.mark.parametrize(
    ("line", "field", "fragment"),
    [  # YAML escapes reach the validator as the characters themselves
        ('name: "evil\\nname"', "name", "single line"),
        ('name: "evil\\0name"', "name", "control"),
        ('name: "gpj.\\u202eexe"', "name", "bidi"),
    ],
)
def test_hostile_strings_from_yaml_escapes(tmp_path, line, field, fragment):
    text = yaml.safe_dump(_simulated(), sort_keys=False).replace("name: sim", line, 1)
    path, msg = _refusal(tmp_path, text)
    assert msg.startswith(path) and f"  {field}: " in msg and fragment in msg


def test_raw_nul_byte_in_file_is_refused(tmp_path):
    text = yaml.safe_dump(_simulated(), sort_keys=False).replace("name: sim", "name: evil\x00name", 1)
    path, msg = _refusal(tmp_path, text)
    assert msg.startswith(path)
    assert "not valid YAML" in msg


def test_oversized_file_is_refused_before_parsing(tmp_path, monkeypatch):
    def no_parse(*args, **kwargs):
        raise AssertionError("an oversized manifest must not be parsed")

    monkeypatch.setattr(yaml, "safe_load", no_parse)
    big = "notes: " + "x" * MAX_MANIFEST_BYTES + "\n"
    path, msg = _refusal(tmp_path, big)
    assert msg.startswith(path)
    assert f"larger than {MAX_MANIFEST_BYTES} bytes" in msg
    with pytest.raises(ManifestError, match="larger than"):
        load_manifest_text(big, "inline")


def test_size_limit_counts_bytes_not_characters():
    # 30,000 three-byte characters = 90,000 bytes > 64 KiB, though only 30,000 characters.
    with pytest.raises(ManifestError, match="larger than"):
        load_manifest_text("notes: " + "€" * 30_000)


def test_file_just_under_the_limit_is_parsed(tmp_path):
    # Padded with a YAML comment up to exactly the limit: not refused for size.
    text = yaml.safe_dump(_simulated(), sort_keys=False)
    text += "#" + "x" * (MAX_MANIFEST_BYTES - len(text.encode()) - 2) + "\n"
    assert len(text.encode()) == MAX_MANIFEST_BYTES
    assert load_manifest(_write(tmp_path, text)).name == "sim"


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(ManifestError) as err:
        load_manifest(path)
    assert str(err.value).startswith(f"{path}: cannot read")
    assert "No such file" in str(err.value)


def test_a_folder_is_refused_as_unreadable(tmp_path):
    with pytest.raises(ManifestError, match=rf"^{re.escape(str(tmp_path))}: cannot read"):
        load_manifest(tmp_path)


def test_manifest_error_is_a_value_error():
    assert issubclass(ManifestError, ValueError)


# ---------------------------------------------------------------------------------------- digest

REORDERED_FLOW_STYLE = """\
# same manifest, other key order, flow style, quoting and comments
owner: "acme-lab"
cost: {priced_on: '2026-10-01', usd_per_gpu_hour: 2.50, gpu_type: H100-80GB, kind: gpu}
generation: {batch_size: 4, max_new_tokens: 128}
model: {revision: "0123456789abcdef0123456789abcdef01234567", hub_id: acme/judge-vl-7b}
parameters: 7_000_000_000
dtype: "float16"
backend: hf
release: 'v3'
family: acme-judge
name: acme-judge   # trailing comment
"""


def test_digest_ignores_key_order_and_layout():
    a = load_manifest_text(HF_YAML)
    b = load_manifest_text(REORDERED_FLOW_STYLE)
    assert a == b
    assert a.digest() == b.digest()
    assert re.fullmatch(r"[0-9a-f]{64}", a.digest())


def test_digest_counts_explicit_defaults_as_equal():
    implicit = parse_manifest(_simulated())
    explicit = parse_manifest(_simulated() | {"dtype": "bfloat16", "generation": {"max_new_tokens": 64},
                                              "notes": ""})
    assert implicit.digest() == explicit.digest()


def test_digest_is_stable_across_loads(tmp_path):
    path = _write(tmp_path, HF_YAML)
    assert load_manifest(path).digest() == load_manifest(path).digest()


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(name="sim2"),
        lambda d: d.update(release="2"),
        lambda d: d["simulated"].update(agreement=0.91),
        lambda d: d["simulated"].update(seed=1),
        lambda d: d.update(generation={"temperature": 0.5}),
        lambda d: d["cost"].update(priced_on="2026-11-27"),
        lambda d: d.update(notes="changed"),
        lambda d: d.update(rubric_template="{{ question }} {{ candidate }}"),
    ],
)
def test_digest_changes_with_any_field(change):
    data = copy.deepcopy(_simulated())
    change(data)
    assert parse_manifest(data).digest() != parse_manifest(_simulated()).digest()


def test_digest_is_a_method_of_manifest():
    assert isinstance(parse_manifest(_simulated()), Manifest)


@pytest.mark.parametrize("path", sorted(str(p) for p in Path("submissions").rglob("*.yaml")))
def test_every_shipped_manifest_validates_and_plans(path):
    from typer.testing import CliRunner

    from harness.cli import app

    manifest = load_manifest(path)
    profile = "demo" if manifest.backend == "simulated" else "production"
    result = CliRunner().invoke(app, ["run", path, "--dry-run", "--profile", profile])
    assert result.exit_code == 0, result.output
    assert "audit" in result.output and "GPU-hours" in result.output


def test_the_four_rung_ladder_is_the_papers():
    rungs = {load_manifest(p).model.hub_id for p in Path("submissions/ladder").glob("*.yaml")}
    assert rungs == {"Qwen/Qwen2.5-VL-3B-Instruct", "Qwen/Qwen3-VL-4B-Instruct", "Qwen/Qwen2.5-VL-7B-Instruct",
                     "Qwen/Qwen3-VL-8B-Instruct"}
