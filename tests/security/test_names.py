"""The name rule: names shown on the leaderboard (name, family, release, owner) are NFKC-normalised and may not
carry invisible, control or unassigned characters, nor letters of more than one script, so that no submitter can
pass for another family; each refusal names the character as a codepoint."""

from __future__ import annotations

import pytest

from harness.submission import ManifestError, parse_manifest

GOOD = {"name": "x", "family": "x", "release": "1", "backend": "simulated", "simulated": {"agreement": 0.9},
        "cost": {"kind": "none", "priced_on": "2026-11-26"}, "owner": "me"}


def _refusal(field: str, value: str) -> str:
    with pytest.raises(ManifestError) as err:
        parse_manifest({**GOOD, field: value})
    assert [f for f, _ in err.value.fields] == [field], err.value.fields
    return err.value.fields[0][1]


@pytest.mark.parametrize(("field", "value", "codepoint"), [
    ("family", "acme\u200bjudge", "U+200B"),  # zero-width space
    ("name", "acme\u200djudge", "U+200D"),  # zero-width joiner
    ("name", "\ufeffacme", "U+FEFF"),  # byte-order mark
    ("family", "acme\u200ejudge", "U+200E"),  # left-to-right mark
    ("owner", "team\u2067x", "U+2067"),  # right-to-left isolate
    ("release", "v1\u00ad", "U+00AD"),  # soft hyphen
    ("name", "acme\tjudge", "U+0009"),  # tab: a control character
    ("name", "acme\x85judge", "U+0085"),  # C1 next-line
    ("name", "acme\ue000", "U+E000"),  # private use
    ("name", "acme\U000e0001", "U+E0001"),  # language tag (format)
    ("name", "acme\u0378", "U+0378"),  # unassigned
    ("family", "\u0430cme-judge", "U+0430"),  # Cyrillic а among Latin letters
    ("family", "judge-\u03bfne", "U+03BF"),  # Greek ο among Latin letters
    ("name", "acme\u2010judge", "U+2010"),  # a hyphen that is not '-'
    ("name", "acme\u2215judge", "U+2215"),  # a division slash that looks like '/'
    ("name", "acme\u2028judge", "U+2028"),  # line separator
    ("name", "Судья-7B", "U+0042"),  # a Latin B among Cyrillic letters
])
def test_invisible_and_look_alike_characters_are_refused_by_codepoint(field, value, codepoint):
    assert codepoint in _refusal(field, value)


@pytest.mark.parametrize(("value", "stored"), [
    ("ａｃｍｅ-judge", "acme-judge"),  # full-width letters normalise to the ASCII name they imitate
    ("𝐚𝐜𝐦𝐞", "acme"),  # mathematical bold
    ("acme\u00a0judge", "acme judge"),  # no-break space
    ("e\u0301cole", "\u00e9cole"),  # decomposed é composes
])
def test_names_are_nfkc_normalised(value, stored):
    assert parse_manifest({**GOOD, "family": value}).family == stored


@pytest.mark.parametrize("value", [
    "acme-judge_v2.1:7b (int8)+/x", "vérificateur ✓", "Судья-7", "κριτής 2", "判定モデル 3", "심판 v2 (Qwen)",
    "<b>x</b> & \"y\"", "=HYPERLINK(\"http://evil\")",
])
def test_one_script_with_digits_punctuation_and_symbols_is_accepted(value):
    assert parse_manifest({**GOOD, "name": value, "family": value, "owner": value}).name == value


def test_normalising_cannot_grow_a_name_past_80_characters():
    assert "80" in _refusal("name", "\ufdfa" * 5)  # one character that NFKC expands to 18
