"""Language-aware counting: Chinese is measured in characters (or jieba words), English in words.

>>> tokens("我的卡丢了 my card")
['我', '的', '卡', '丢', '了', 'my', 'card']
>>> script_lang("我的银行卡丢了"), script_lang("I lost my card"), script_lang("12345")
('zh', 'en', 'other')
"""

from __future__ import annotations

import re
from functools import lru_cache

# CJK unified ideographs (+ extension A and compatibility ideographs): one token each.
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W\d_{_CJK}]+(?:['’][^\W\d_]+)*|\d+(?:[.,]\d+)*")
_CJK_CHAR = re.compile(rf"[{_CJK}]")
_LATIN_LETTER = re.compile(r"[A-Za-z]")
_LETTER = re.compile(r"[^\W\d_]")
_ZH_SHARE = 0.3  # of the letters: a Chinese sentence with an English product name is still Chinese


def tokens(text: str) -> list[str]:
    """Words for rules written for English: a Chinese character counts as one word, as in Gopher-zh."""
    return list(token_tuple(text))


# Several operators look at the same text in a row (quality rules, repetition rules, dedup shingles,
# the report's language count): the last few texts' tokens and languages are kept, not recomputed.
@lru_cache(maxsize=16)
def token_tuple(text: str) -> tuple[str, ...]:
    """`tokens(text)` as a tuple, remembered for the last few texts."""
    return tuple(_TOKEN.findall(text))


@lru_cache(maxsize=64)
def script_lang(text: str) -> str:
    """'zh', 'en' or 'other' by script alone — cheap enough to call on every row."""
    if text.isascii():  # no CJK, and every letter is Latin
        return "en" if _LATIN_LETTER.search(text) else "other"
    cjk = len(_CJK_CHAR.findall(text))
    latin = len(_LATIN_LETTER.findall(text))
    letters = len(_LETTER.findall(text))
    if not letters:
        return "other"
    if cjk / letters >= _ZH_SHARE:
        return "zh"
    return "en" if latin / letters >= 0.8 else "other"


@lru_cache(maxsize=1)
def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


def segment(text: str) -> list[str]:
    """jieba's segmentation of a Chinese text: pieces that join back to the text, punctuation included."""
    return _jieba().lcut(text)


def words(text: str, lang: str) -> list[str]:
    """Words as a reader counts them: jieba segmentation for Chinese, letter/digit runs otherwise."""
    if lang == "zh":
        return [w for w in segment(text) if w.strip() and _TOKEN.search(w)]
    return tokens(text)
