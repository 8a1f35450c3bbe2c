"""Slot values and politeness wrappers that turn question templates into natural paraphrases.

A template names a slot in braces (`{card}`); every value is a (zh, en) pair, so the same table
serves both languages and the corpus. Values are fictional but plausible for a Chinese retail bank.
No value looks like personal data (no 11-digit numbers, no e-mails): the noise injectors must be
the only source of PII in the data set, or a PII filter could not be scored against `noise.jsonl`.
"""

from __future__ import annotations

from string import Formatter
from typing import Literal

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
SlotValue = tuple[str, str]  # (zh, en)
_LANG_INDEX: dict[str, int] = {"zh": 0, "en": 1}

SLOTS: dict[str, tuple[SlotValue, ...]] = {
    "card": (("借记卡", "debit card"), ("信用卡", "credit card"), ("工资卡", "payroll card"),
             ("储蓄卡", "savings card")),
    "channel": (("手机银行", "the mobile banking app"), ("网上银行", "online banking"),
                ("微信银行", "WeChat banking"), ("兰亭银行App", "the Lanting Bank app")),
    "city": (("北京", "Beijing"), ("上海", "Shanghai"), ("广州", "Guangzhou"), ("深圳", "Shenzhen"),
             ("杭州", "Hangzhou"), ("成都", "Chengdu"), ("南京", "Nanjing"), ("武汉", "Wuhan"),
             ("西安", "Xi'an"), ("苏州", "Suzhou"), ("绍兴", "Shaoxing"), ("宁波", "Ningbo")),
    "transfer_amount": (("3万元", "30,000 yuan"), ("5万元", "50,000 yuan"), ("8万元", "80,000 yuan"),
                        ("10万元", "100,000 yuan"), ("20万元", "200,000 yuan"),
                        ("50万元", "500,000 yuan"), ("100万元", "1 million yuan")),
    "loan_amount": (("5万元", "50,000 yuan"), ("10万元", "100,000 yuan"), ("20万元", "200,000 yuan"),
                    ("30万元", "300,000 yuan")),
    "new_limit": (("3万元", "30,000 yuan"), ("5万元", "50,000 yuan"), ("8万元", "80,000 yuan"),
                  ("10万元", "100,000 yuan"), ("15万元", "150,000 yuan")),
    "prepay_amount": (("10万元", "100,000 yuan"), ("20万元", "200,000 yuan"), ("30万元", "300,000 yuan"),
                      ("50万元", "500,000 yuan")),
    "cash_amount": (("5万元", "50,000 yuan"), ("8万元", "80,000 yuan"), ("10万元", "100,000 yuan"),
                    ("20万元", "200,000 yuan")),
    "currency": (("美元", "US dollars"), ("欧元", "euros"), ("日元", "Japanese yen"), ("英镑", "British pounds"),
                 ("港币", "Hong Kong dollars"), ("澳元", "Australian dollars")),
    "country": (("日本", "Japan"), ("美国", "the US"), ("泰国", "Thailand"), ("法国", "France"),
                ("新加坡", "Singapore"), ("英国", "the UK"), ("澳大利亚", "Australia")),
    "term": (("三个月", "3-month"), ("半年", "6-month"), ("一年", "1-year"), ("两年", "2-year"),
             ("三年", "3-year"), ("五年", "5-year")),
    "fee_item": (("跨行转账", "interbank transfers"), ("跨行取款", "withdrawals at other banks' ATMs"),
                 ("短信通知", "SMS alerts"), ("信用卡年费", "the credit card annual fee"),
                 ("补卡", "card replacement")),
    # English carries its own preposition: "open on Saturdays" but "open during Spring Festival".
    "weekday": (("周六", "on Saturdays"), ("周日", "on Sundays"), ("国庆节", "during the National Day holiday"),
                ("春节", "during Spring Festival")),
    "merchant": (("网店", "an online shop"), ("超市", "a supermarket"), ("加油站", "a petrol station"),
                 ("酒店", "a hotel"), ("航空公司", "an airline")),
    # Chinese says "安卓手机" but English "iPhone", never "iPhone phone": the noun lives in the value.
    "phone_os": (("安卓", "Android phone"), ("苹果", "iPhone"), ("鸿蒙", "HarmonyOS phone")),
    # Corpus-only slots: notices carry dates, rates and product names, customers' questions rarely do.
    "date": (("2025年1月1日", "1 January 2025"), ("2025年3月1日", "1 March 2025"),
             ("2025年6月30日", "30 June 2025"), ("2025年9月1日", "1 September 2025"),
             ("2025年10月8日", "8 October 2025"), ("2026年1月1日", "1 January 2026")),
    "loan_rate": (("3.45%", "3.45%"), ("3.6%", "3.6%"), ("3.85%", "3.85%"), ("4.2%", "4.2%")),
    "wealth_product": (("兰亭稳盈90天", "Lanting Steady 90-Day"), ("兰亭月月享", "Lanting Monthly Income"),
                       ("兰亭安心存", "Lanting Secure Savings"), ("兰亭添利180天", "Lanting Plus 180-Day")),
}

# Greetings fit before any message; asking phrases only before a message that is a question
# ("请问卡被偷了，需要冻结。" reads wrong). Chinese ones flow straight into the question ("请问" +
# "怎么挂失？"); English ones are whole sentences, so the question's own capital letter stays right.
GREETINGS: dict[str, tuple[str, ...]] = {
    "zh": ("你好，", "您好，", "客服你好，", "打扰一下，", "在吗？", "你好啊，"),
    "en": ("Hi. ", "Hello! ", "Hi there! ", "Good morning. ", "Good afternoon. ", "Sorry to bother you. ",
           "Hello, I need some help. "),
}
ASKS: dict[str, tuple[str, ...]] = {
    "zh": ("请问", "请问一下，", "麻烦问一下，", "咨询一下，", "你好，想问下，", "您好，我想咨询一下，"),
    "en": ("Hi, quick question. ", "Hey, I have a question. ", "Quick question: ", "Hello, one question. "),
}
SUFFIXES: dict[str, tuple[str, ...]] = {
    "zh": ("谢谢！", "谢谢。", "多谢。", "麻烦尽快回复。", "急，在线等。", "辛苦了。"),
    "en": (" Thanks.", " Thank you!", " Thanks in advance.", " Please help.", " It's urgent.",
           " Appreciate it."),
}
P_PREFIX = 0.45
P_SUFFIX = 0.3


def slot_names(template: str) -> tuple[str, ...]:
    """The slots a template uses, in order of first appearance: `slot_names("{a}和{b}")` → ("a", "b")."""
    names = [field for _, field, _, _ in Formatter().parse(template) if field]
    return tuple(dict.fromkeys(names))


def fill(template: str, values: dict[str, SlotValue], lang: str) -> str:
    """Put each slot's value in `lang` into the template."""
    i = _LANG_INDEX[lang]
    return template.format(**{name: value[i] for name, value in values.items()})
