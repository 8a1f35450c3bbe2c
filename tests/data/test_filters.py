"""Filters and quality rules on fixed Chinese and English texts: the exact reason or a keep."""

from lmstack.data.ops import build, parse_params


def reason(op: str, texts: list[str], **params) -> str | None:
    return build(op, parse_params(op, params))(texts).reason


def test_length_in_characters_and_words():
    assert reason("length", ["在吗"], min=3) == "length: 2 chars < 3"
    assert reason("length", ["hi"], min=2) is None
    assert reason("length", ["x" * 11], max=10) == "length: 11 chars > 10"
    # jieba: 信用卡 / 怎么 / 还款 is three words; English counts words
    assert reason("length", ["信用卡怎么还款"], unit="words", min=4) == "length: 3 words < 4"
    assert reason("length", ["How do I repay my card"], unit="words", min=4) is None
    assert reason("length", ["Hi there"], unit="words", min=3) == "length: 2 words < 3"


def test_length_checks_every_message_of_a_chat_row():
    assert reason("length", ["您好，请问怎么开户？", "好"], min=2) == "length: 1 chars < 2"


def test_special_chars():
    assert reason("special_chars", ["#$%^&*(){}|~~~~"]) == "special_chars: 0.67 > 0.25"
    assert reason("special_chars", ["您好，我的卡（尾号1234）被锁了！"]) is None
    assert reason("special_chars", ["Fees: 0.5% per transfer (min. $2)."]) is None


def test_flagged_words():
    assert reason("flagged_words", ["网络赌博平台"], words=["赌博"]) == "flagged_words: 1 > 0 ('赌博')"
    assert reason("flagged_words", ["Casinos nearby"], words=["casino"]) is None  # whole words only
    assert reason("flagged_words", ["casino, CASINO"], words=["casino"], max_count=1) == "flagged_words: 2 > 1 ('casino', 'CASINO')"


def test_encoding_finds_both_kinds_of_mojibake():
    assert reason("encoding", ["æˆ‘çš„å¡ä¸¢äº†"]) == "encoding: 5 UTF-8-as-Latin-1 pairs > 1"
    assert reason("encoding", ["鎴戠殑鍗′涪浜\ufffd"]) == "encoding: 1 replacement characters > 0"
    assert reason("encoding", ["Café déjà vu — ½ price"]) is None


def test_language_keeps_chinese_and_english_only():
    assert reason("language", ["我的银行卡丢了，怎么挂失？"]) is None
    assert reason("language", ["How do I report a lost card?"]) is None
    assert reason("language", ["カードを紛失しました。どうすればいいですか？"]) == "language: ja (1.000), zh+en 0.000 < 0.5"
    assert reason("language", ["hi"]) is None  # too short to judge
    assert reason("language", ["我的银行卡丢了，怎么挂失？"], languages=["en"]) == "language: zh (0.941), en 0.000 < 0.5"
