"""Document quality rules from Gopher (Rae et al. 2021), C4 and FineWeb, as datatrove sets them,
adapted to Chinese: a Chinese character counts as a word, n-grams are character n-grams, and rules
about English word shapes (mean word length) are skipped for Chinese text.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence

from pydantic import Field

from lmstack.data.lang import script_lang, token_tuple, tokens
from lmstack.data.ops.base import Outcome, Params, drop, drop_on_first, keep, register

_STOP_WORDS = {"en": frozenset({"the", "be", "to", "of", "and", "that", "have", "with"}),
               "zh": frozenset("的了是在我你有和就不人都这也要")}
_BULLETS = ("•", "●", "○", "■", "□", "▪", "-", "*", "·", "‣", "►", "➢")
_ELLIPSIS = ("...", "…", "。。。")


class GopherQualityParams(Params):
    min_words: int = Field(50, ge=0, description="Fewest words (Chinese: characters).")
    max_words: int = Field(100_000, ge=1, description="Most words (Chinese: characters).")
    min_mean_word_length: float = Field(3.0, ge=0, description="English only: smallest mean word length.")
    max_mean_word_length: float = Field(10.0, ge=0, description="English only: largest mean word length.")
    min_alpha_word_ratio: float = Field(0.8, ge=0, le=1, description="Smallest share of words holding a letter.")
    max_bullet_lines_ratio: float = Field(0.9, ge=0, le=1, description="Largest share of lines starting with a bullet.")
    max_ellipsis_lines_ratio: float = Field(0.3, ge=0, le=1, description="Largest share of lines ending in an ellipsis.")
    min_stop_words: int = Field(2, ge=0, description="Fewest stop words (the, and, of… / 的, 了, 是…).")


@register("gopher_quality", "quality", GopherQualityParams)
class GopherQuality:
    """Gopher quality rules: word count, mean word length, alphabetic words, bullets, ellipses, stop words.

    >>> GopherQuality(GopherQualityParams(min_words=5))(["请问 信用卡 额度"]).reason
    'gopher_quality: 0 stop words < 2'
    """

    def __init__(self, p: GopherQualityParams):
        self.p = p

    def _check(self, text: str) -> str | None:
        p, lang = self.p, script_lang(text)
        words = token_tuple(text)
        if len(words) < p.min_words:
            return f"gopher_quality: {len(words)} words < {p.min_words}"
        if len(words) > p.max_words:
            return f"gopher_quality: {len(words)} words > {p.max_words}"
        if lang != "zh":
            mean = sum(map(len, words)) / len(words)
            if not p.min_mean_word_length <= mean <= p.max_mean_word_length:
                return f"gopher_quality: mean word length {mean:.1f} outside [{p.min_mean_word_length}, {p.max_mean_word_length}]"
        n_alpha = sum(map(str.isalpha, words))  # most words are all letters; look inside the others
        if n_alpha < len(words):
            n_alpha += sum(any(ch.isalpha() for ch in w) for w in words if not w.isalpha())
        alpha = n_alpha / len(words)
        if alpha < p.min_alpha_word_ratio:
            return f"gopher_quality: alphabetic words {alpha:.2f} < {p.min_alpha_word_ratio}"
        lines = [line.strip() for line in text.split("\n") if line.strip()]
        bullets = sum(line.startswith(_BULLETS) for line in lines) / len(lines)
        if bullets > p.max_bullet_lines_ratio:
            return f"gopher_quality: bullet lines {bullets:.2f} > {p.max_bullet_lines_ratio}"
        ellipsis = sum(line.endswith(_ELLIPSIS) for line in lines) / len(lines)
        if ellipsis > p.max_ellipsis_lines_ratio:
            return f"gopher_quality: ellipsis lines {ellipsis:.2f} > {p.max_ellipsis_lines_ratio}"
        stops = _STOP_WORDS["zh" if lang == "zh" else "en"]
        n_stop = sum(map(stops.__contains__, map(str.lower, words)))
        if n_stop < p.min_stop_words:
            return f"gopher_quality: {n_stop} stop words < {p.min_stop_words}"
        return None

    def __call__(self, texts: list[str]) -> Outcome:
        return drop_on_first(self._check, texts)


def _duplicate_share(items: list[str]) -> tuple[float, float]:
    """Share of items that repeat an earlier one, and share of characters in them."""
    seen: set[str] = set()
    dup_items = dup_chars = 0
    for item in items:
        if item in seen:
            dup_items += 1
            dup_chars += len(item)
        seen.add(item)
    total_chars = sum(map(len, items)) or 1
    return dup_items / max(len(items), 1), dup_chars / total_chars


def _ngrams(words: Sequence[str], n: int) -> list[tuple[str, ...]]:
    """Every n-gram of `words` in order (built by zip, in C)."""
    return list(zip(*(words[i:] for i in range(n))))


def _top_ngram_share(words: Sequence[str], n: int) -> float:
    """Characters in the most frequent n-gram's occurrences over all characters (Gopher's top n-gram)."""
    grams = Counter(_ngrams(words, n))
    if not grams:
        return 0.0
    gram, count = grams.most_common(1)[0]
    return count * sum(map(len, gram)) / max(sum(map(len, words)), 1)


def _duplicated_ngram_share(words: Sequence[str], n: int) -> float:
    """Characters covered by n-grams seen before, each counted once (datatrove's find_all_duplicate).

    0.0 exactly when no n-gram repeats, and then no longer one does either."""
    grams = _ngrams(words, n)
    if len(set(grams)) == len(grams):  # the usual case: nothing repeats, no walk needed
        return 0.0
    ends = list(itertools.accumulate(map(len, words), initial=0))  # characters before word i: ends[i]
    seen: set[tuple[str, ...]] = set()
    covered, i = 0, 0
    while i < len(grams):
        gram = grams[i]
        if gram in seen:
            covered += ends[i + n] - ends[i]
            i += n
        else:
            seen.add(gram)
            i += 1
    return covered / max(ends[-1], 1)


class GopherRepetitionParams(Params):
    max_dup_line_ratio: float = Field(0.3, ge=0, le=1, description="Largest share of lines that repeat an earlier line.")
    max_dup_paragraph_ratio: float = Field(0.3, ge=0, le=1, description="Largest share of paragraphs that repeat an earlier one.")
    max_dup_line_char_ratio: float = Field(0.2, ge=0, le=1, description="Largest share of characters in repeated lines.")
    max_top_ngram_ratio: dict[int, float] = Field({2: 0.20, 3: 0.18, 4: 0.16}, description="n → largest character share of the most frequent n-gram.")
    max_dup_ngram_ratio: dict[int, float] = Field({5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10},
                                                  description="n → largest character share of repeated n-grams.")
    min_words: int = Field(50, ge=0, description="Texts with fewer words (Chinese: characters) are not judged: a few words always repeat.")
    zh_chars_per_word: int = Field(2, ge=1, description="For Chinese an n-gram is n × this many characters: a Chinese word is about two characters.")


@register("gopher_repetition", "quality", GopherRepetitionParams)
class GopherRepetition:
    """Gopher repetition rules: repeated lines and paragraphs, top n-gram share, repeated n-grams.

    Words are tokens (a Chinese character is one), so for Chinese the n-grams are character
    n-grams, each `zh_chars_per_word` times longer than the English word n-gram it stands for.

    >>> GopherRepetition(GopherRepetitionParams(min_words=20))(["请拨打客服热线。" * 6]).reason
    'gopher_repetition: top 2-gram share 0.57 > 0.2'
    """

    def __init__(self, p: GopherRepetitionParams):
        self.p = p

    def _check(self, text: str) -> str | None:
        p = self.p
        words = token_tuple(text)
        if len(words) < p.min_words:
            return None
        lines = [line for line in text.split("\n") if line.strip()]
        paragraphs = [para for para in re.split(r"\n{2,}", text) if para.strip()]
        dup_lines, dup_line_chars = _duplicate_share(lines)
        if dup_lines > p.max_dup_line_ratio:
            return f"gopher_repetition: repeated lines {dup_lines:.2f} > {p.max_dup_line_ratio}"
        if dup_line_chars > p.max_dup_line_char_ratio:
            return f"gopher_repetition: characters in repeated lines {dup_line_chars:.2f} > {p.max_dup_line_char_ratio}"
        dup_paragraphs, _ = _duplicate_share(paragraphs)
        if dup_paragraphs > p.max_dup_paragraph_ratio:
            return f"gopher_repetition: repeated paragraphs {dup_paragraphs:.2f} > {p.max_dup_paragraph_ratio}"
        scale = p.zh_chars_per_word if script_lang(text) == "zh" else 1
        for n, limit in sorted(p.max_top_ngram_ratio.items()):
            share = _top_ngram_share(words, n * scale)
            if share > limit:
                return f"gopher_repetition: top {n}-gram share {share:.2f} > {limit}"
        for n, limit in sorted(p.max_dup_ngram_ratio.items()):
            share = _duplicated_ngram_share(words, n * scale)
            if share > limit:
                return f"gopher_repetition: repeated {n}-grams {share:.2f} > {limit}"
            if share == 0.0:  # no n-gram repeats, so no longer one does
                break
        return None

    def __call__(self, texts: list[str]) -> Outcome:
        return drop_on_first(self._check, texts)


_TERMINAL = (".", "!", "?", '"', "'", "”", "’", "。", "！", "？", "…", "」", "』", "）", ")")


class C4LinesParams(Params):
    min_words_per_line: int = Field(3, ge=0, description="Lines with fewer words (Chinese: characters ÷ 2, since a Chinese word is about two characters) are dropped.")
    require_terminal_punctuation: bool = Field(True, description="Drop lines that do not end in sentence punctuation (。！？… or .!?\").")
    drop_javascript_lines: bool = Field(True, description="Drop lines mentioning javascript (cookie and script notices).")
    bad_phrases: list[str] = Field(["lorem ipsum", "{"], description="A text holding any of these is removed whole.")


@register("c4_lines", "quality", C4LinesParams)
class C4Lines:
    """C4's line rules: keep only lines that end like sentences and hold a few words; remove placeholder text.

    Rewrites the text line by line, and removes the row when no line is left.

    >>> C4Lines(C4LinesParams())(["Home | Login\\n您可以在手机银行查询余额。\\nCall us now."]).texts
    ['您可以在手机银行查询余额。\\nCall us now.']
    """

    def __init__(self, p: C4LinesParams):
        self.p = p

    def _line_ok(self, line: str) -> bool:
        p = self.p
        if p.require_terminal_punctuation and not line.endswith(_TERMINAL):
            return False
        n = len(tokens(line))
        n_words = n / 2 if script_lang(line) == "zh" else n
        if n_words < p.min_words_per_line:
            return False
        return not (p.drop_javascript_lines and "javascript" in line.lower())

    def __call__(self, texts: list[str]) -> Outcome:
        out = []
        for text in texts:
            lowered = text.lower()
            bad = next((ph for ph in self.p.bad_phrases if ph in lowered), None)
            if bad:
                return drop(f"c4_lines: holds {bad!r}")
            kept = [line.strip() for line in text.split("\n") if line.strip() and self._line_ok(line.strip())]
            if not kept:
                return drop("c4_lines: no line ends like a sentence with enough words")
            out.append("\n".join(kept))
        return keep(out)


class FineWebLinesParams(Params):
    min_punctuated_line_ratio: float = Field(0.12, ge=0, le=1, description="Smallest share of lines ending in sentence punctuation.")
    max_short_line_ratio: float = Field(0.67, ge=0, le=1, description="Largest share of short lines.")
    short_line_chars: dict[str, int] = Field({"en": 30, "zh": 10}, description="A line up to this many characters is short, by language (Chinese packs ~3× more per character).")
    max_dup_line_char_ratio: float = Field(0.01, ge=0, le=1, description="Largest share of characters in repeated lines.")
    min_lines: int = Field(3, ge=1, description="Texts with fewer lines are not judged: line rules mean nothing on one line.")


@register("fineweb_lines", "quality", FineWebLinesParams)
class FineWebLines:
    """FineWeb's line rules: enough punctuated lines, not too many short lines, few repeated lines.

    >>> FineWebLines(FineWebLinesParams())(["首页\\n登录\\n注册\\n联系我们"]).reason
    'fineweb_lines: punctuated lines 0.00 < 0.12'
    """

    def __init__(self, p: FineWebLinesParams):
        self.p = p

    def _check(self, text: str) -> str | None:
        p = self.p
        lines = [line.strip() for line in text.split("\n") if line.strip()]
        if len(lines) < p.min_lines:
            return None
        punctuated = sum(line.endswith(_TERMINAL) for line in lines) / len(lines)
        if punctuated < p.min_punctuated_line_ratio:
            return f"fineweb_lines: punctuated lines {punctuated:.2f} < {p.min_punctuated_line_ratio}"
        short = sum(len(line) <= p.short_line_chars.get(script_lang(line), p.short_line_chars.get("en", 30))
                    for line in lines) / len(lines)
        if short > p.max_short_line_ratio:
            return f"fineweb_lines: short lines {short:.2f} > {p.max_short_line_ratio}"
        _, dup_chars = _duplicate_share(lines)
        if dup_chars > p.max_dup_line_char_ratio:
            return f"fineweb_lines: characters in repeated lines {dup_chars:.2f} > {p.max_dup_line_char_ratio}"
        return None

    def __call__(self, texts: list[str]) -> Outcome:
        return drop_on_first(self._check, texts)
