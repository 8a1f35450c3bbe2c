"""Check digits and number plans that tell real personal numbers from look-alikes.

>>> resident_id_valid("11010519491231002X"), resident_id_valid("110105194912310021")
(True, False)
>>> luhn_valid("4111111111111111"), luhn_valid("4111111111111112")
(True, False)
>>> cn_mobile_valid("13812345678"), cn_mobile_valid("12812345678")
(True, False)
"""

from __future__ import annotations

import ipaddress
import re
from datetime import date

_ID_WEIGHTS = tuple(2 ** (17 - i) % 11 for i in range(17))
_ID_CHECK = "10X98765432"  # indexed by the weighted sum mod 11 (ISO 7064 MOD 11-2)
_CN_MOBILE = re.compile(r"1[3-9]\d{9}")


def resident_id_valid(number: str) -> bool:
    """An 18-character mainland resident ID: region, a real birth date, sequence, MOD 11-2 check character."""
    number = number.upper()
    if len(number) != 18 or not number[:17].isdigit() or number[0] == "0":
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    if not date(1900, 1, 1) <= born <= date.today():
        return False
    return _ID_CHECK[sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS)) % 11] == number[17]


def luhn_valid(number: str) -> bool:
    """The Luhn (mod 10) check that every payment card number passes."""
    digits = [int(ch) for ch in number if ch.isdigit()]
    if len(digits) < 12:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def cn_mobile_valid(number: str) -> bool:
    """A mainland mobile number: 11 digits starting 13–19, with an optional +86 / 86 prefix."""
    digits = re.sub(r"[\s-]", "", number)
    digits = digits.removeprefix("+86").removeprefix("0086") if len(digits) > 11 else digits
    digits = digits.removeprefix("86") if len(digits) == 13 else digits
    return bool(_CN_MOBILE.fullmatch(digits))


def intl_phone_valid(number: str) -> bool:
    """An international number in E.164 reach: a '+', a country code, 8–15 digits in all."""
    digits = re.sub(r"\D", "", number)
    return number.lstrip().startswith("+") and 8 <= len(digits) <= 15 and digits[0] != "0"


def ip_valid(address: str) -> bool:
    """A well-formed IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True
