"""PII detection and the four actions, on Chinese and English sentences."""

import pytest

from lmstack.data.ops import build, parse_params
from lmstack.errors import UserError

ZH = "我的身份证是11010519491231002X，手机13812345678，卡号6222021234567890128，邮箱li.na@163.com。"
EN = "Call +44 20 7946 0958 or visit https://bank.example.com/help from 192.168.1.20 or 2001:db8::1."


def pii(texts, **params):
    return build("pii", parse_params("pii", params))(texts)


def test_replace_every_kind_with_tags_counted():
    out = pii([ZH, EN])
    assert out.texts == ["我的身份证是<RESIDENT_ID>，手机<PHONE>，卡号<BANK_CARD>，邮箱<EMAIL>。",
                         "Call <PHONE> or visit <URL> from <IP> or <IP>."]
    assert sorted(out.tags) == ["bank_card", "email", "ip", "ip", "phone", "phone", "resident_id", "url"]


def test_near_miss_numbers_are_left_alone():
    text = "订单号110105194912310021，流水6222021234567890127，座机12812345678，金额1,000.50元，版本1.2.3.4.5"
    out = pii([text])
    assert out.texts == [text] and out.tags == ()


def test_mask_keeps_the_last_four_characters():
    assert pii(["手机13812345678"], action="mask").texts == ["手机*******5678"]


def test_hash_is_keyed_and_stable():
    a = pii(["13812345678"], action="hash", salt="s3cret").texts[0]
    assert a == pii(["13812345678"], action="hash", salt="s3cret").texts[0]
    assert a != pii(["13812345678"], action="hash", salt="other").texts[0]
    assert a.startswith("<PHONE:") and len(a) == len("<PHONE:12345678>")


def test_hash_without_salt_is_refused():
    with pytest.raises(UserError, match="salt"):
        parse_params("pii", {"action": "hash"})


def test_drop_removes_the_row_and_names_the_kinds():
    assert pii([ZH], action="drop").reason == "pii: bank_card, email, phone, resident_id"
    assert pii(["no personal data here"], action="drop").reason is None


def test_only_the_chosen_kinds():
    assert pii([ZH], kinds=["email"]).texts == [ZH.replace("li.na@163.com", "<EMAIL>")]
