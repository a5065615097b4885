"""Log-probability judging (a manifest's ``judging.mode: logprob``): the score of a yes/no rubric answer is
P(yes) / (P(yes) + P(no)) over the first answer token's alternatives. Pure; shared by the backends that implement
the mode.

Tokenisers spell one word several ways ("Yes", " yes", "YES", "Ġyes" for byte-level BPE shown raw); the
alternatives are matched after removing surrounding whitespace and the byte-level space marker and folding case,
and every spelling's probability counts. The score comes out as a ``{"score": ...}`` text, the form every verdict
is parsed from, so audits, pairs and the replay gate treat it like any other judge's score.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence

#: The byte-level BPE marker of a leading space, as some servers return tokens raw.
_SPACE_MARKS = "\u0120\u2581"  # 'Ġ' (GPT-2 style), '▁' (SentencePiece)


def normalise(token: str) -> str:
    """A token as compared with the yes/no words: no surrounding whitespace or space marker, case folded."""
    return token.strip().lstrip(_SPACE_MARKS).strip().casefold()


def yes_no_score(top: Iterable[tuple[str, float]], yes: Sequence[str], no: Sequence[str]
                 ) -> tuple[float | None, float, float]:
    """(score, P(yes), P(no)) from (token, log-probability) alternatives; score None when neither word is among
    them (or a log-probability is not a number)."""
    yes_set, no_set = {normalise(t) for t in yes}, {normalise(t) for t in no}
    p_yes = p_no = 0.0
    for token, logprob in top:
        if not isinstance(logprob, int | float) or math.isnan(logprob):
            return None, 0.0, 0.0
        word = normalise(token)
        if word in yes_set:
            p_yes += math.exp(logprob)
        elif word in no_set:
            p_no += math.exp(logprob)
    total = p_yes + p_no
    return (p_yes / total if total > 0 else None), p_yes, p_no


def neither_word(tokens: Sequence[str], yes: Sequence[str], no: Sequence[str]) -> str:
    """The recorded failure when the first token's alternatives (``tokens``) hold neither a yes nor a no word."""
    seen = ", ".join(repr(t) for t in tokens[:5]) or "none"
    return (f"neither a yes token {list(yes)} nor a no token {list(no)} among the first token's {len(tokens)} most "
            f"likely ({seen}...)")


def score_text(score: float, p_yes: float, p_no: float) -> str:
    """The judgment's text: the score where every verdict is parsed from, with the two masses beside it."""
    return json.dumps({"score": score, "p_yes": p_yes, "p_no": p_no})


def word_token_ids(vocabulary: Sequence[str], yes: Sequence[str], no: Sequence[str]) -> tuple[list[int], list[int]]:
    """The ids of every token of ``vocabulary`` (its raw token strings, by id) that spells a yes or a no word: a
    local model's P(yes) sums over all of them, not only over a top-k."""
    yes_set, no_set = {normalise(t) for t in yes}, {normalise(t) for t in no}
    words = [normalise(t) if isinstance(t, str) else "" for t in vocabulary]
    return [i for i, w in enumerate(words) if w in yes_set], [i for i, w in enumerate(words) if w in no_set]
