"""Normalisation operators: they rewrite text and never remove a row."""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache
from typing import Literal

from pydantic import Field

from lmstack.data.ops.base import Outcome, Params, keep, register

# NFKC folds full-width forms to ASCII, which is right for letters and digits ("ＡＢＣ１２３") but
# turns Chinese punctuation into English punctuation ("，" → ","): those marks are left alone.
_CJK_PUNCTUATION = re.compile("([，：；！？（）])")


class NfkcParams(Params):
    keep_cjk_punctuation: bool = Field(True, description="Keep the full-width Chinese punctuation marks ，：；！？（） that NFKC would make ASCII.")


@register("nfkc", "normalize", NfkcParams)
class Nfkc:
    """Unicode NFKC: full-width letters and digits become ASCII, compatibility characters are unified.

    >>> Nfkc(NfkcParams())(["ＡＢＣ１２３，好的"]).texts
    ['ABC123，好的']
    """

    def __init__(self, p: NfkcParams):
        self.p = p

    def _fix(self, text: str) -> str:
        if not self.p.keep_cjk_punctuation:
            return unicodedata.normalize("NFKC", text)
        # split() with a group keeps the separators at the odd positions
        parts = _CJK_PUNCTUATION.split(text)
        return "".join(part if i % 2 else unicodedata.normalize("NFKC", part) for i, part in enumerate(parts))

    def __call__(self, texts: list[str]) -> Outcome:
        return keep([self._fix(t) for t in texts])


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0\u3000\u2000-\u200a]+")
_BLANK_LINES = re.compile(r"\n\s*\n\s*(\n\s*)+")


class WhitespaceParams(Params):
    keep_newlines: bool = Field(True, description="Keep line breaks (collapsing three or more into two); False joins lines with a space.")


@register("whitespace", "normalize", WhitespaceParams)
class Whitespace:
    """Remove control and zero-width characters, collapse runs of spaces, trim every line.

    >>> Whitespace(WhitespaceParams())(["  hello\\u200b   world \\r\\n\\n\\n\\nbye\\x07 "]).texts
    ['hello world\\n\\nbye']
    """

    def __init__(self, p: WhitespaceParams):
        self.p = p

    def _fix(self, text: str) -> str:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        text = _CONTROL.sub("", text)
        lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
        if not self.p.keep_newlines:
            return " ".join(line for line in lines if line)
        return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()

    def __call__(self, texts: list[str]) -> Outcome:
        return keep([self._fix(t) for t in texts])


_DROPPED_ELEMENTS = re.compile(r"<(script|style|noscript|template)\b[^>]*>.*?</\1\s*>", re.I | re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_BLOCK_TAG = re.compile(r"</?(p|div|br|li|tr|h[1-6]|section|article|ul|ol|table|blockquote)\b[^>]*>", re.I)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?>")


class HtmlParams(Params):
    pass


@register("strip_html", "normalize", HtmlParams)
class StripHtml:
    """Remove HTML tags, comments, scripts and styles; unescape entities; block tags become line breaks.

    >>> StripHtml(HtmlParams())(["<p>余额&amp;积分</p><script>x()</script><b>查询</b>"]).texts
    ['余额&积分\\n查询']
    """

    def __init__(self, p: HtmlParams):
        self.p = p

    @staticmethod
    def _fix(text: str) -> str:
        if "<" not in text and "&" not in text:
            return text
        text = _COMMENT.sub("", _DROPPED_ELEMENTS.sub("", text))
        text = _TAG.sub("", _BLOCK_TAG.sub("\n", text))
        text = html.unescape(text)
        return "\n".join(line.strip() for line in text.split("\n") if line.strip())

    def __call__(self, texts: list[str]) -> Outcome:
        return keep([self._fix(t) for t in texts])


@lru_cache(maxsize=4)
def _opencc(config: str):
    import opencc

    return opencc.OpenCC(config)


class ChineseScriptParams(Params):
    config: Literal["t2s", "tw2s", "hk2s", "tw2sp", "s2t"] = Field(
        "t2s", description="OpenCC conversion: t2s (traditional → simplified), tw2s/hk2s (regional variants), "
                           "tw2sp (with Taiwan phrases), s2t (the other way).")


@register("chinese_script", "normalize", ChineseScriptParams)
class ChineseScript:
    """Convert traditional Chinese to simplified (or back) with OpenCC; other text is unchanged.

    >>> ChineseScript(ChineseScriptParams())(["銀行卡掛失怎麼辦？"]).texts
    ['银行卡挂失怎么办？']
    """

    def __init__(self, p: ChineseScriptParams):
        self.converter = _opencc(p.config)

    def __call__(self, texts: list[str]) -> Outcome:
        out = [self.converter.convert(t) for t in texts]
        return keep(out, ("converted",) if out != texts else ())
