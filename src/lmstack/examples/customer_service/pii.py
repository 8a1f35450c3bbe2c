"""Fake personal data that passes the checks real validators run, and sentences that carry it.

A PII filter is only tested if the planted values look real: resident IDs carry a region code, a
valid birth date and the ISO 7064 MOD 11-2 check character; card numbers pass Luhn. Every value is
drawn from the caller's `random.Random`, so the same seed plants the same data.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta

# District codes of cities the bank serves (GB/T 2260), so IDs look local.
REGION_CODES = ("110101", "110105", "310104", "310115", "440106", "440305", "330106", "510104", "320102",
                "420106", "610113", "320505", "330602", "330203")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)  # 2^(17-i) mod 11
_ID_CHECK = "10X98765432"  # indexed by the weighted sum mod 11
_BIRTH_FIRST, _BIRTH_LAST = date(1950, 1, 1), date(2005, 12, 31)
_CARD_PREFIXES = ("62", "621", "622", "623", "4", "51", "52", "53", "54", "55")  # UnionPay, Visa, Mastercard
_CARD_LENGTHS = (16, 16, 17, 18, 19, 19)  # UnionPay debit cards are mostly 19 digits, credit cards 16
_EMAIL_NAMES = ("zhangwei", "li.na", "wangfang", "chenjie", "liu_yang", "huang.min", "zhao.lei", "amy.chen",
                "john.smith", "lucy_w", "mike.zhou", "grace.lin", "sun.hao", "xu_ting")
_EMAIL_DOMAINS = ("qq.com", "163.com", "126.com", "gmail.com", "outlook.com", "foxmail.com", "sina.com")


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def resident_id_check(first17: str) -> str:
    """The 18th character of a resident ID number (ISO 7064 MOD 11-2)."""
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS)) % 11]


def luhn_check(payload: str) -> str:
    """The digit that makes `payload` + digit pass the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:  # these positions are doubled once the check digit is appended
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str(-total % 10)


def resident_id(rng: random.Random) -> str:
    """An 18-character resident ID: region code, birth date, sequence number, check character."""
    birth = _BIRTH_FIRST + timedelta(days=rng.randrange((_BIRTH_LAST - _BIRTH_FIRST).days + 1))
    first17 = rng.choice(REGION_CODES) + birth.strftime("%Y%m%d") + f"{rng.randrange(1, 1000):03d}"
    return first17 + resident_id_check(first17)


def mobile(rng: random.Random) -> str:
    """A mainland mobile number, `1[3-9]` and nine more digits."""
    return "1" + rng.choice("3456789") + _digits(rng, 9)


def bank_card(rng: random.Random) -> str:
    """A 16–19 digit card number with a real network prefix and a Luhn check digit."""
    prefix = rng.choice(_CARD_PREFIXES)
    payload = prefix + _digits(rng, rng.choice(_CARD_LENGTHS) - 1 - len(prefix))
    return payload + luhn_check(payload)


def email(rng: random.Random) -> str:
    # Short numeric suffixes only: a long digit run would look like a second kind of PII.
    suffix = str(rng.randrange(1, 10_000)) if rng.random() < 0.5 else ""
    return f"{rng.choice(_EMAIL_NAMES)}{suffix}@{rng.choice(_EMAIL_DOMAINS)}"


PII_MAKERS: dict[str, Callable[[random.Random], str]] = {
    "pii_resident_id": resident_id,
    "pii_mobile": mobile,
    "pii_bank_card": bank_card,
    "pii_email": email,
}

# How customers (in questions) and notices or case notes (in the corpus) leak each kind; `{value}`
# is the planted string.
PII_SENTENCES: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "customer": {
        "pii_resident_id": {"zh": ("我的身份证号是{value}。", "本人身份证号{value}，麻烦帮忙查一下。"),
                            "en": ("My ID number is {value}.", "For reference, my resident ID is {value}.")},
        "pii_mobile": {"zh": ("我的手机号是{value}。", "有结果请打我电话{value}。"),
                       "en": ("My phone number is {value}.", "Please call me back on {value}.")},
        "pii_bank_card": {"zh": ("卡号是{value}。", "我的卡号{value}，帮我看看。"),
                          "en": ("My card number is {value}.", "The card is {value}.")},
        "pii_email": {"zh": ("结果请发到我的邮箱{value}。", "我的邮箱是{value}。"),
                      "en": ("Please reply to {value}.", "My e-mail is {value}.")},
    },
    "notice": {
        "pii_resident_id": {"zh": ("客户王先生（身份证号{value}）已于当日办结相关业务。",),
                            "en": ("Customer Mr Wang (ID {value}) completed the request the same day.",)},
        "pii_mobile": {"zh": ("如有疑问，请联系客户经理李女士，电话{value}。",),
                       "en": ("For questions, contact relationship manager Ms Li on {value}.",)},
        "pii_bank_card": {"zh": ("示例：收款卡号{value}，户名张三。",),
                          "en": ("Example: payee card number {value}, name Zhang San.",)},
        "pii_email": {"zh": ("材料请发送至{value}，邮件标题注明姓名。",),
                      "en": ("Send the documents to {value} with your name in the subject line.",)},
    },
}
