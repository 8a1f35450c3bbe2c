"""Check-digit validators: real numbers pass, one-digit-off neighbours fail."""

import pytest

from lmstack.data.validators import cn_mobile_valid, intl_phone_valid, ip_valid, luhn_valid, resident_id_valid


@pytest.mark.parametrize("number", ["11010519491231002X", "11010519491231002x", "44030519900101123X", "310104198512240017"])
def test_resident_id_accepts_valid(number):
    assert resident_id_valid(number)


@pytest.mark.parametrize("number", [
    "110105194912310021",   # wrong check character
    "440305199001011238",   # check character X replaced by a digit
    "110105194902300020",   # 30 February
    "01010519491231002X",   # region code cannot start with 0
    "11010519491231002",    # 17 characters
    "310104298512240017",   # born in the future
])
def test_resident_id_rejects_near_misses(number):
    assert not resident_id_valid(number)


@pytest.mark.parametrize("number", ["4111111111111111", "6222021234567890128", "5500 0000 0000 0004", "4012-8888-8888-1881"])
def test_luhn_accepts_valid(number):
    assert luhn_valid(number)


@pytest.mark.parametrize("number", ["4111111111111112", "6222021234567890127", "5500000000000040", "41111"])
def test_luhn_rejects_near_misses(number):
    assert not luhn_valid(number)


@pytest.mark.parametrize("number", ["13812345678", "19912345678", "+8613812345678", "86 138 1234 5678", "138-1234-5678"])
def test_cn_mobile_accepts_valid(number):
    assert cn_mobile_valid(number)


@pytest.mark.parametrize("number", ["12812345678", "1381234567", "138123456789", "23812345678"])
def test_cn_mobile_rejects_near_misses(number):
    assert not cn_mobile_valid(number)


def test_intl_phone_and_ip():
    assert intl_phone_valid("+44 20 7946 0958") and intl_phone_valid("+1 (415) 555-2671")
    assert not intl_phone_valid("+44 12") and not intl_phone_valid("020 7946 0958")
    assert ip_valid("192.168.1.20") and ip_valid("2001:db8::8a2e:370:7334")
    assert not ip_valid("256.1.1.1") and not ip_valid("10:30:00")
