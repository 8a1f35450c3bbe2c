"""Text splitting shared by the metrics: Chinese by characters, other scripts by words."""

from __future__ import annotations

import re
import unicodedata

# CJK ideographs (with extensions A and compatibility), kana and hangul are scored one
# character at a time; runs of other letters and digits are words.
_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]|[^\s{_CJK}]+")


def is_punctuation(text: str) -> bool:
    """True when every character is punctuation or a symbol (，。!? ¥ …)."""
    return all(unicodedata.category(ch)[0] in "PS" for ch in text)


def strip_punctuation(text: str) -> str:
    return "".join(" " if unicodedata.category(ch)[0] == "P" else ch for ch in text)


def mixed_tokens(text: str) -> list[str]:
    """Chinese characters one by one, other words whole, punctuation dropped.

    >>> mixed_tokens("转账 limit 是5000元。")
    ['转', '账', 'limit', '是', '5000', '元']
    """
    return [tok for tok in _TOKEN.findall(strip_punctuation(text)) if not is_punctuation(tok)]
