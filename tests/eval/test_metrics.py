"""Quality metrics against sacrebleu's command line, hand-computed values and sklearn."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lmstack.errors import UserError
from lmstack.eval.metrics import build_metric, score

SACREBLEU = Path(sys.executable).with_name("sacrebleu")

EN_HYP = ["The card was blocked after three wrong PINs.", "Call 95555 to report a lost card.", "Fees are waived."]
EN_REF = ["Your card is blocked after three wrong PIN entries.", "Please call 95555 to report a lost card.",
          "There is no fee for this service."]
ZH_HYP = ["您的信用卡丢失后请立即拨打95555挂失。", "转账限额为每日五万元。", "网银密码可以在手机银行重置。"]
ZH_REF = ["信用卡丢失后，请马上拨打客服热线95555办理挂失。", "每日转账限额是五万元。", "您可以通过手机银行重置网银密码。"]


def _cli(tmp_path: Path, hyp: list[str], ref: list[str], *args: str) -> list[float]:
    (tmp_path / "hyp.txt").write_text("\n".join(hyp) + "\n", encoding="utf-8")
    (tmp_path / "ref.txt").write_text("\n".join(ref) + "\n", encoding="utf-8")
    out = subprocess.run([str(SACREBLEU), str(tmp_path / "ref.txt"), "-i", str(tmp_path / "hyp.txt"),
                          "-b", "-w", "6", *args], capture_output=True, text=True, check=True).stdout
    return [float(x) for x in out.replace("[", " ").replace("]", " ").replace(",", " ").split()]


@pytest.mark.parametrize(("lang", "hyp", "ref", "tok"), [("en", EN_HYP, EN_REF, "13a"), ("zh", ZH_HYP, ZH_REF, "zh")])
def test_bleu_and_chrf_equal_sacrebleu_command_line(tmp_path, lang, hyp, ref, tok):
    bleu_cli, chrf_cli = _cli(tmp_path, hyp, ref, "-m", "bleu", "chrf", "-tok", tok)
    bleu = score(build_metric("bleu", language=lang), hyp, ref)
    chrf = score(build_metric("chrf", language=lang), hyp, ref)
    assert round(bleu.scores["bleu"], 6) == pytest.approx(bleu_cli, abs=1e-6)
    assert round(chrf.scores["chrf"], 6) == pytest.approx(chrf_cli, abs=1e-6)
    assert f"tok:{tok}" in bleu.settings["signature"] and bleu.settings["tokenize"] == tok
    assert "nc:6" in chrf.settings["signature"]
    assert bleu_cli > 0


def test_bleu_aggregates_any_subset_of_its_sentence_statistics(tmp_path):
    metric = build_metric("bleu", language="zh")
    full = score(metric, ZH_HYP, ZH_REF)
    (sub_cli,) = _cli(tmp_path, ZH_HYP[:2], ZH_REF[:2], "-m", "bleu", "-tok", "zh")
    assert round(metric.aggregate(full.stats[:2])["bleu"], 6) == pytest.approx(sub_cli, abs=1e-6)


def test_chinese_rouge_by_characters_equals_hand_computed_value():
    # pred chars 我的信用卡丢了怎么挂失 (11), ref 信用卡丢失后如何挂失 (10):
    # unigram overlap 6 → F = 12/21; bigram overlap 信用 用卡 卡丢 挂失 of 10 and 9 → F = 8/19;
    # LCS 信用卡丢挂失 = 6 → F = 12/21.
    result = score(build_metric("rouge", language="zh", tokenizer="char"), ["我的信用卡丢了，怎么挂失？"], ["信用卡丢失后如何挂失"])
    assert result.scores == pytest.approx({"rouge1": 12 / 21, "rouge2": 8 / 19, "rougeL": 12 / 21})
    assert result.settings["tokenizer"] == "char"


def test_chinese_rouge_with_jieba_is_nonzero_where_the_default_tokenizer_gives_zero():
    pred, ref = ["我的信用卡丢了，怎么挂失？"], ["信用卡丢失后如何挂失"]
    jieba = score(build_metric("rouge", language="zh"), pred, ref)
    assert jieba.settings["tokenizer"] == "jieba" and "jieba" in jieba.settings
    # jieba: 我 的 信用卡 丢 了 怎么 挂失 | 信用卡 丢失 后 如何 挂失 → overlap 2 of 7 and 5.
    assert jieba.scores["rouge1"] == pytest.approx(2 * 2 / (7 + 5))
    default = score(build_metric("rouge", language="zh", tokenizer="default"), pred, ref)
    assert default.scores["rouge1"] == 0.0


def test_exact_match_and_token_f1_on_fixed_examples():
    preds = ["the Eiffel Tower", "in Paris, France", "拨打热线95555", "no idea"]
    refs = ["Eiffel tower!", "Paris", "请拨打95555", "Paris"]
    em = score(build_metric("exact_match"), preds, refs)
    f1 = score(build_metric("f1"), preds, refs)
    assert em.stats == [1.0, 0.0, 0.0, 0.0]
    # 拨 打 热 线 95555 vs 请 拨 打 95555: 3 common, P = 3/5, R = 3/4.
    assert f1.stats == pytest.approx([1.0, 0.5, 2 * 0.6 * 0.75 / 1.35, 0.0])
    assert f1.scores["f1"] == pytest.approx((1.0 + 0.5 + 2 * 0.6 * 0.75 / 1.35) / 4)


def test_accuracy_and_macro_f1_match_sklearn():
    from sklearn.metrics import f1_score

    preds = ["lost_card", "transfer", "transfer", "balance", "lost_card", "fees"]
    refs = ["lost_card", "transfer", "balance", "balance", "fees", "fees"]
    assert score(build_metric("accuracy"), preds, refs).scores["accuracy"] == pytest.approx(4 / 6)
    macro = score(build_metric("macro_f1"), preds, refs).scores["macro_f1"]
    assert macro == pytest.approx(f1_score(refs, preds, average="macro", zero_division=0))


def test_rubric_pass_rate_with_substrings_and_regexes():
    rubric = {"required": ["95555", "re:挂失|冻结"], "forbidden": ["re:密码\\s*是"]}
    preds = ["请拨打95555挂失。", "请拨打95555，您的密码是123。", "请到网点办理。", "Call 95555 to 冻结 it"]
    result = score(build_metric("rubric"), preds, [rubric] * 4)
    assert result.stats == [1.0, 0.0, 0.0, 1.0]
    with pytest.raises(UserError, match="row 0: bad regular expression"):
        score(build_metric("rubric"), ["x"], [{"required": ["re:("]}])


@pytest.mark.parametrize(("preds", "refs", "message"), [
    (["a", "b"], ["a"], "2 predictions but 1 references"),
    (["a", "  "], ["a", "b"], "row 1: the prediction is missing or empty"),
    (["a", None], ["a", "b"], "row 1: the prediction is missing or empty"),
    (["a", "b"], ["a", None], "row 1: the reference is missing or empty"),
    (["a", "b"], ["", "b"], "row 0: the reference is missing or empty"),
])
def test_bad_pairs_are_user_errors_naming_the_row(preds, refs, message):
    with pytest.raises(UserError, match=message):
        score(build_metric("bleu"), preds, refs)


def test_empty_predictions_can_be_scored_as_wrong_when_allowed():
    result = score(build_metric("exact_match"), ["", "yes"], ["yes", "yes"], allow_empty_predictions=True)
    assert result.scores["exact_match"] == 0.5


def test_unknown_metric_is_a_user_error():
    with pytest.raises(UserError, match="unknown metric 'blue'"):
        build_metric("blue")
