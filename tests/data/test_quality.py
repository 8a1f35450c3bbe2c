"""Gopher, C4 and FineWeb rules, with the Chinese adaptations."""

from lmstack.data.ops import build, parse_params

EN_DOC = ("The bank offers savings accounts with interest paid monthly. To open one, bring your ID card to any "
          "branch and fill in the form with the help of our staff. You can also open an account in the app, "
          "which takes about ten minutes and needs a photo of your ID and a short video call with an agent.")
ZH_DOC = ("您可以在手机银行的卡片管理中查询信用卡额度，也可以拨打客服热线了解详情。如果需要提高额度，"
          "请在应用里提交申请，我们会在三个工作日内完成审核并通过短信通知您结果。")


def outcome(op: str, texts: list[str], **params):
    return build(op, parse_params(op, params))(texts)


def test_gopher_quality_keeps_real_prose_in_both_languages():
    assert outcome("gopher_quality", [EN_DOC]).reason is None
    assert outcome("gopher_quality", [ZH_DOC]).reason is None


def test_gopher_quality_rules():
    assert outcome("gopher_quality", ["too short"]).reason == "gopher_quality: 2 words < 50"
    assert outcome("gopher_quality", ["aaaaaaaaaaaaaaaa " * 60]).reason == "gopher_quality: mean word length 16.0 outside [3.0, 10.0]"
    assert outcome("gopher_quality", ["1234 5678 " * 30 + EN_DOC]).reason == "gopher_quality: alphabetic words 0.50 < 0.8"
    bullets = "\n".join(f"• item number {i} for the bank and the card" for i in range(10))
    assert outcome("gopher_quality", [bullets]).reason == "gopher_quality: bullet lines 1.00 > 0.9"
    # Chinese: characters count as words, mean word length is not judged, stop words are 的/了/是…
    no_stops = "兰亭银行信用卡额度查询服务说明" * 4
    assert outcome("gopher_quality", [no_stops]).reason == "gopher_quality: 0 stop words < 2"


def test_gopher_repetition_on_repeated_text():
    assert outcome("gopher_repetition", [EN_DOC]).reason is None
    assert outcome("gopher_repetition", [ZH_DOC]).reason is None
    lines = "\n".join(["Call 95386 for help today."] * 10 + [EN_DOC])
    assert outcome("gopher_repetition", [lines]).reason == "gopher_repetition: repeated lines 0.82 > 0.3"
    assert outcome("gopher_repetition", ["请拨打客服热线。" * 10]).reason == "gopher_repetition: top 2-gram share 0.57 > 0.2"
    # overlapping occurrences are all counted, as in datatrove, so the share can pass 1
    assert outcome("gopher_repetition", ["哈哈哈哈哈哈"], min_words=1).reason == "gopher_repetition: top 2-gram share 2.00 > 0.2"


def test_c4_lines_drops_navigation_lines_and_placeholder_text():
    out = outcome("c4_lines", ["首页 | 登录\n您可以在手机银行查询余额。\nMenu\nCall us now if your card is lost."])
    assert out.texts == ["您可以在手机银行查询余额。\nCall us now if your card is lost."]
    assert outcome("c4_lines", ["Lorem ipsum dolor sit amet."]).reason == "c4_lines: holds 'lorem ipsum'"
    assert outcome("c4_lines", ["首页\n登录"]).reason == "c4_lines: no line ends like a sentence with enough words"
    assert outcome("c4_lines", ["好的。"]).reason == "c4_lines: no line ends like a sentence with enough words"


def test_fineweb_lines_counts_short_lines_in_characters_per_language():
    assert outcome("fineweb_lines", ["首页\n登录\n注册\n联系我们"]).reason == "fineweb_lines: punctuated lines 0.00 < 0.12"
    menu = "首页。\n登录。\n注册。\n联系我们。"
    assert outcome("fineweb_lines", [menu]).reason == "fineweb_lines: short lines 1.00 > 0.67"
    prose = "信用卡额度可以在手机银行中查询。\n如需提高额度请提交申请。\n审核结果会通过短信通知。"
    assert outcome("fineweb_lines", [prose]).reason is None
    assert outcome("fineweb_lines", ["One line only"]).reason is None
