"""Exact and MinHash near-duplicate removal: planted copies go, distinct rows stay."""

from lmstack.data.ops import build, parse_params

ZH = ["信用卡账单日后二十天内为还款期，逾期未还将产生利息和违约金，并可能影响您的个人征信记录，请按时还款。",
      "借记卡丢失后请立即通过手机银行或客服热线办理临时挂失，再携带身份证件到任意网点办理正式挂失和补卡。",
      "跨行转账通过手机银行办理免收手续费，单笔限额五万元，日累计限额二十万元，大额转账请到柜台办理。"]
EN = ["Credit card statements are issued monthly and payment is due twenty days after the statement date.",
      "If you lose your debit card, freeze it at once in the app or by phone, then visit a branch with your ID.",
      "Transfers to other banks through the mobile app are free, up to fifty thousand yuan per transfer."]


def dedup(op: str, rows: list[str], **params) -> list[str | None]:
    step = build(op, parse_params(op, params))
    return [step([text], f"f:{i}").reason for i, text in enumerate(rows, 1)]


def test_exact_dedup_ignores_case_spacing_and_punctuation():
    rows = [ZH[0], EN[0], ZH[0].replace("，", ",  "), EN[0].upper(), ZH[1]]
    assert dedup("exact_dedup", rows) == [None, None, "exact_dedup: same text as f:1", "exact_dedup: same text as f:2", None]


def test_exact_dedup_can_compare_the_first_message_only():
    step = build("exact_dedup", parse_params("exact_dedup", {"compare": "first"}))
    assert step(["怎么挂失？", "答案一"], "a:1").reason is None
    assert step(["怎么挂失？", "答案二"], "a:2").reason == "exact_dedup: same text as a:1"


def test_minhash_finds_planted_near_duplicates_and_keeps_distinct_rows():
    near_zh = ZH[1].replace("立即", "立刻").replace("补卡", "补办")   # two word edits
    near_en = EN[2].replace("Transfers", "transfers") + " Thank you!"    # case and a closing phrase
    rows = ZH + EN + [near_zh, near_en]
    reasons = dedup("minhash_dedup", rows, en_ngram=3)
    assert reasons[:6] == [None] * 6
    assert reasons[6].startswith("minhash_dedup: Jaccard") and reasons[6].endswith("with f:2")
    assert reasons[7].startswith("minhash_dedup: Jaccard") and reasons[7].endswith("with f:6")


def test_minhash_is_deterministic_by_seed():
    rows = ZH + [ZH[0][:-1] + "！"]
    assert dedup("minhash_dedup", rows, seed=7) == dedup("minhash_dedup", rows, seed=7)


def test_minhash_shingles_are_characters_for_chinese_and_words_for_english():
    step = build("minhash_dedup", parse_params("minhash_dedup", {"zh_ngram": 2, "en_ngram": 2}))
    assert step.shingles("银行卡丢了") == {"银行".encode(), "行卡".encode(), "卡丢".encode(), "丢了".encode()}
    assert step.shingles("Lost my card") == {b"lost my", b"my card"}


def test_minhash_hashes_one_value_per_distinct_shingle():
    step = build("minhash_dedup", parse_params("minhash_dedup", {"en_ngram": 3}))
    for text in [ZH[0], EN[1], EN[1] + " " + EN[1], "", "card", "卡"]:
        hashes = step.shingle_hashes(text)
        assert len(hashes) == len(step.shingles(text)) and len(set(hashes.tolist())) == len(hashes)
    assert step.shingle_hashes("Lost my card today").tolist() == step.shingle_hashes("lost  MY card, today!").tolist()
    assert step.shingle_hashes("lost my card").tolist() != step.shingle_hashes("card my lost").tolist()
