"""Row filters on simple measures: length, special characters, flagged words, broken encodings.

Each checks every text of a row (a chat row's every message) and removes the row when one fails,
with a reason that names the measure and the threshold it crossed.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field

from lmstack.data.lang import script_lang, words
from lmstack.data.ops.base import Outcome, Params, drop, drop_on_first, keep, register


class LengthParams(Params):
    unit: Literal["chars", "words"] = Field("chars", description="chars: characters; words: jieba words for Chinese, whitespace words for English.")
    min: int = Field(1, ge=0, description="Fewest units a text may have.")
    max: int | None = Field(None, ge=1, description="Most units a text may have (None: no limit).")


@register("length", "filter", LengthParams)
class Length:
    """Remove rows with a text shorter than `min` or longer than `max` units.

    >>> Length(LengthParams(min=3, max=10))(["在吗"]).reason
    'length: 2 chars < 3'
    """

    def __init__(self, p: LengthParams):
        self.p = p

    def _check(self, text: str) -> str | None:
        n = len(text.strip()) if self.p.unit == "chars" else len(words(text, script_lang(text)))
        if n < self.p.min:
            return f"length: {n} {self.p.unit} < {self.p.min}"
        if self.p.max is not None and n > self.p.max:
            return f"length: {n} {self.p.unit} > {self.p.max}"
        return None

    def __call__(self, texts: list[str]) -> Outcome:
        return drop_on_first(self._check, texts)


_ORDINARY = re.compile(r"[\w\s\u3000-\u303f\uff01-\uff0f\uff1a-\uff20.,!?;:'\"()\-%/$¥￥+@&“”‘’、。，！？：；（）《》【】…—·]")


class SpecialCharsParams(Params):
    max_ratio: float = Field(0.25, ge=0, le=1, description="Largest share of characters that are neither letters, digits, spaces nor common punctuation.")
    min_chars: int = Field(5, ge=1, description="Texts shorter than this are not judged (a lone '?' is a length matter).")


@register("special_chars", "filter", SpecialCharsParams)
class SpecialChars:
    """Remove rows whose text is mostly symbols (keyboard junk, ASCII art, broken markup).

    >>> SpecialChars(SpecialCharsParams())(["#$%^&*()_+{}|好"]).reason
    'special_chars: 0.43 > 0.25'
    """

    def __init__(self, p: SpecialCharsParams):
        self.p = p

    def _check(self, text: str) -> str | None:
        text = text.strip()
        if len(text) < self.p.min_chars:
            return None
        ratio = 1 - len(_ORDINARY.findall(text)) / len(text)
        return f"special_chars: {ratio:.2f} > {self.p.max_ratio}" if ratio > self.p.max_ratio else None

    def __call__(self, texts: list[str]) -> Outcome:
        return drop_on_first(self._check, texts)


class FlaggedWordsParams(Params):
    words: list[str] = Field(default_factory=list, description="Words or phrases to flag (case-insensitive; Chinese matched as substrings).")
    max_count: int = Field(0, ge=0, description="Most flagged words a row may hold.")


@register("flagged_words", "filter", FlaggedWordsParams)
class FlaggedWords:
    """Remove rows holding more than `max_count` flagged words (English on word boundaries, Chinese as substrings).

    >>> FlaggedWords(FlaggedWordsParams(words=["赌博", "casino"]))(["Best casino bonus"]).reason
    "flagged_words: 1 > 0 ('casino')"
    """

    def __init__(self, p: FlaggedWordsParams):
        self.p = p
        parts = [re.escape(w) if not w.isascii() else rf"\b{re.escape(w)}\b" for w in p.words]
        self.pattern = re.compile("|".join(parts), re.I) if parts else None

    def __call__(self, texts: list[str]) -> Outcome:
        if self.pattern is None:
            return keep(texts)
        found = [m.group(0) for t in texts for m in self.pattern.finditer(t)]
        if len(found) > self.p.max_count:
            return drop(f"flagged_words: {len(found)} > {self.p.max_count} ({', '.join(map(repr, found[:3]))})")
        return keep(texts)


# UTF-8 read as cp1252/latin-1 shows lead bytes Ã/Â/å/æ/ç/è/é… followed by continuation-byte
# characters (€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ or U+0080–U+00BF).
_LATIN1_MOJIBAKE = re.compile("[\u00c2-\u00ef][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]")


class EncodingParams(Params):
    max_replacement: int = Field(0, ge=0, description="Most U+FFFD replacement characters a text may hold.")
    max_mojibake: int = Field(1, ge=0, description="Most UTF-8-read-as-Latin-1 character pairs (é“, Ã©) a text may hold.")


@register("encoding", "filter", EncodingParams)
class Encoding:
    """Remove rows whose text was decoded with the wrong codec: U+FFFD characters or UTF-8 shown as Latin-1.

    >>> Encoding(EncodingParams())(["é“¶è¡Œå¡ä¸¢äº†"]).reason
    'encoding: 5 UTF-8-as-Latin-1 pairs > 1'
    """

    def __init__(self, p: EncodingParams):
        self.p = p

    def _check(self, text: str) -> str | None:
        bad = text.count("\ufffd")
        if bad > self.p.max_replacement:
            return f"encoding: {bad} replacement characters > {self.p.max_replacement}"
        pairs = len(_LATIN1_MOJIBAKE.findall(text))
        if pairs > self.p.max_mojibake:
            return f"encoding: {pairs} UTF-8-as-Latin-1 pairs > {self.p.max_mojibake}"
        return None

    def __call__(self, texts: list[str]) -> Outcome:
        return drop_on_first(self._check, texts)
