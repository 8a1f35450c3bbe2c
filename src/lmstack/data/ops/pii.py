"""Personal data: find e-mails, phones, resident IDs, bank cards, IP addresses and URLs, then mask,
replace, hash or drop.

A candidate found by a pattern counts only when its validator agrees (MOD 11-2 for resident IDs,
Luhn for cards), so order numbers and amounts are left alone. Detectors run in the table's order
and each sees the text the previous ones left, so an 18-digit ID is not also taken for a card.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, model_validator

from lmstack.data.ops.base import Outcome, Params, drop, keep, register
from lmstack.data.validators import cn_mobile_valid, intl_phone_valid, ip_valid, luhn_valid, resident_id_valid


@dataclass(frozen=True)
class Detector:
    kind: str
    pattern: re.Pattern
    valid: Callable[[str], bool]


def _always(_: str) -> bool:
    return True


# No \b around digits: Chinese characters count as word characters, so "号码13812345678" has no boundary.
DETECTORS: tuple[Detector, ...] = (
    Detector("email", re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"), _always),
    Detector("url", re.compile(r"(?:https?://|www\.)[^\s<>\"'，。！？；、）)】]+", re.I), _always),
    Detector("resident_id", re.compile(r"(?<![0-9A-Za-z])[1-9]\d{16}[0-9Xx](?![0-9A-Za-z])"), resident_id_valid),
    Detector("bank_card", re.compile(r"(?<![\d-])\d{4}(?:[ -]?\d{4}){2}[ -]?\d{4,7}(?![\d-])"), luhn_valid),
    Detector("phone", re.compile(r"(?<![\d+])(?:\+?86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?!\d)"), cn_mobile_valid),
    Detector("phone", re.compile(r"(?<![\w+])\+\d{1,3}(?:[ -]?\(?\d{1,4}\)?){1,2}(?:[ -]?\d{2,4}){1,4}(?!\d)"), intl_phone_valid),
    Detector("ip", re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])"), ip_valid),
    Detector("ip", re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])"), ip_valid),
)
PII_KINDS = tuple(dict.fromkeys(d.kind for d in DETECTORS))


class PiiParams(Params):
    kinds: list[Literal["email", "url", "resident_id", "bank_card", "phone", "ip"]] = Field(
        list(PII_KINDS), description="Which kinds of personal data to look for.")
    action: Literal["mask", "replace", "hash", "drop"] = Field(
        "replace", description="mask: keep the last 4 characters, star the rest; replace: a tag like <PHONE>; "
                               "hash: <PHONE:hmac8> (the same number gives the same tag); drop: remove the row.")
    salt: str | None = Field(None, description="Secret key for action=hash; required there, since unsalted "
                                               "hashes of phone numbers are reversed by trying them all.")

    @model_validator(mode="after")
    def _hash_needs_salt(self):
        if self.action == "hash" and not self.salt:
            raise ValueError("action 'hash' needs a secret `salt`")
        return self


@register("pii", "pii", PiiParams)
class Pii:
    """Find personal data (validated by check digits) and mask, replace, hash it, or drop the row.

    >>> Pii(PiiParams())(["我的手机13812345678，邮箱 li.na@163.com"]).texts
    ['我的手机<PHONE>，邮箱 <EMAIL>']
    >>> Pii(PiiParams(action="mask"))(["card 4111 1111 1111 1111"]).texts
    ['card ***************1111']
    """

    def __init__(self, p: PiiParams):
        self.p = p
        self.detectors = [d for d in DETECTORS if d.kind in p.kinds]

    def _cover(self, kind: str, value: str) -> str:
        match self.p.action:
            case "mask":
                return "*" * max(len(value) - 4, 0) + value[-4:]
            case "hash":
                digest = hmac.new(self.p.salt.encode(), value.encode(), hashlib.sha256).hexdigest()[:8]
                return f"<{kind.upper()}:{digest}>"
            case _:
                return f"<{kind.upper()}>"

    def _scan(self, text: str, found: list[str]) -> str:
        for det in self.detectors:
            def sub(m: re.Match, det: Detector = det) -> str:
                if not det.valid(m.group(0)):
                    return m.group(0)
                found.append(det.kind)
                return self._cover(det.kind, m.group(0))
            text = det.pattern.sub(sub, text)
        return text

    def __call__(self, texts: list[str]) -> Outcome:
        found: list[str] = []
        out = [self._scan(t, found) for t in texts]
        if not found:
            return keep(texts)
        kinds = tuple(sorted(set(found)))
        if self.p.action == "drop":
            return drop(f"pii: {', '.join(kinds)}")
        return keep(out, tuple(found))
