"""Normalisation operators on fixed Chinese and English texts."""

from lmstack.data.ops import OPERATORS, build, parse_params


def run(op: str, texts: list[str], **params) -> list[str]:
    return build(op, parse_params(op, params))(texts).texts


def test_nfkc_folds_full_width_but_keeps_chinese_punctuation():
    assert run("nfkc", ["ＡＴＭ取款１０００元，可以吗？", "ﬁle №５"]) == ["ATM取款1000元，可以吗？", "file No5"]
    assert run("nfkc", ["你好，世界！"], keep_cjk_punctuation=False) == ["你好,世界!"]


def test_whitespace_removes_control_and_zero_width_characters():
    assert run("whitespace", ["  Hello\u200b   world\t!\r\n\n\n\n第二行\u3000\u3000内容\x07 "]) == ["Hello world !\n\n第二行 内容"]
    assert run("whitespace", ["a\nb\n\nc"], keep_newlines=False) == ["a b c"]


def test_strip_html():
    html = '<div><h1>挂失</h1><p>请拨打&nbsp;95386 &amp; visit <a href="x">our site</a>.</p><style>p{}</style><!-- x --></div>'
    assert run("strip_html", [html]) == ["挂失\n请拨打\xa095386 & visit our site."]
    assert run("strip_html", ["3 < 5 and plain"]) == ["3 < 5 and plain"]


def test_chinese_script_converts_traditional_and_tags_the_change():
    op = build("chinese_script", parse_params("chinese_script", {}))
    out = op(["我的銀行卡掛失後，多久能補辦？", "How long does it take?"])
    assert out.texts == ["我的银行卡挂失后，多久能补办？", "How long does it take?"]
    assert out.tags == ("converted",)
    assert op(["已经是简体"]).tags == ()


def test_every_operator_documents_its_parameters():
    for spec in OPERATORS.values():
        assert spec.doc, spec.name
        for name, field in spec.params.model_fields.items():
            assert field.description, f"{spec.name}.{name}"
