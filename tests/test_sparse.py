"""Sparse lexical vectors from fugashi/UniDic lemmas on real Japanese sentences."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from retrieval.errors import ConfigError
from retrieval.text.sparse import SparseEncoder, term_id
from retrieval.types import SparseVector

CORPUS = Path(__file__).resolve().parents[1] / "data_samples"  # copies of shared/corpus
WHITE_PAPER = CORPUS / "white_paper" / "r05_chapter5_soumu_ict_policy.txt"


@pytest.fixture(scope="module")
def enc() -> SparseEncoder:
    return SparseEncoder()


def test_diet_question_terms(enc: SparseEncoder) -> None:
    terms = enc.terms("法人税率の引下げについて伺います。")
    assert "法人税率" in terms  # the compound
    assert {"法人", "税", "率", "法人税", "税率"} <= set(terms)  # parts and adjacent pairs
    assert "引き下げ" in terms  # UniDic lemma: 引下げ and 引き下げ meet
    # Function words are dropped: について (に+つく+て) and the courtesy verb 伺う.
    assert not {"つく", "伺う", "の", "に", "ます", "。"} & set(terms)


def test_compounds_and_loanwords(enc: SparseEncoder) -> None:
    terms = enc.terms("マイナンバーカードの普及を図ることが大切だと考えております。")
    assert {"マイナンバーカード", "マイナンバー", "カード", "普及", "図る", "大切", "考える"} <= set(terms)
    assert not {"事", "居る", "為る", "カード-card"} & set(terms)


def test_orthographic_variants_meet(enc: SparseEncoder) -> None:
    assert "引き下げ" in enc.terms("税率の引き下げを行う") and "引き下げ" in enc.terms("税率の引下げを行う")
    assert "子供" in enc.terms("子どもの貧困") and "子供" in enc.terms("子供の貧困")


def test_numerals_fold_to_digits(enc: SparseEncoder) -> None:
    kanji = set(enc.terms("行政手続法第五条の規定"))
    digits = set(enc.terms("行政手続法第5条の規定"))
    assert "第5条" in kanji and kanji == digits
    assert "令和6年" in enc.terms("令和六年十一月十三日の委員会")
    assert "1000円" in enc.terms("手数料は1,000円です")
    # Bare small numbers and lone counters (年, 月) are no terms.
    assert not {"6", "11", "年", "月", "日"} & set(enc.terms("令和六年十一月十三日"))


def test_ascii_lowercased_and_width_folded(enc: SparseEncoder) -> None:
    assert enc.encode_query("ＤＸ推進") == enc.encode_query("dx推進") == enc.encode_query("DX推進")
    assert "dx推進" in enc.terms("DX推進")


def test_term_ids_are_stable_across_processes() -> None:
    assert term_id("法人税率") == 3968204149
    assert term_id("マイナンバーカード") == 3010083416
    assert term_id("ai") == 3274108699
    code = "from retrieval.text.sparse import SparseEncoder; print(SparseEncoder().encode('法人税率の引下げ').indices)"
    outputs = set()
    for seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                             cwd=Path(__file__).resolve().parents[1], check=True)
        outputs.add(out.stdout.strip())
    assert outputs == {str(SparseEncoder().encode("法人税率の引下げ").indices)}


def test_query_and_document_agree(enc: SparseEncoder) -> None:
    speech = json.loads((CORPUS / "kokkai" / "ndl_speech_121314370X00120240823.json").read_text("utf-8"))
    text = speech["speechRecord"][29]["speech"][:400]
    doc, query = enc.encode(text), enc.encode_query(text)
    assert set(query.indices) == set(doc.indices)
    assert query.values == [1.0] * len(query.indices)
    # A short question shares its key terms with the passage that answers it.
    passage = enc.encode("法人税率の引下げは、令和6年度の税制改正で検討する。")
    question = enc.encode_query("法人税の税率を引き下げる予定は")
    assert {term_id("法人税"), term_id("税率")} <= set(passage.indices) & set(question.indices)


def test_vector_shape_and_weights(enc: SparseEncoder) -> None:
    vec = enc.encode("税率、税率、税率の引下げ。")
    assert isinstance(vec, SparseVector)
    assert vec.indices == sorted(vec.indices) and len(set(vec.indices)) == len(vec.indices)
    assert all(0 <= i < 2**32 for i in vec.indices)
    weights = dict(zip(vec.indices, vec.values))
    assert weights[term_id("税率")] > weights[term_id("引き下げ")] > 0
    # Saturation: ten repeats weigh far less than ten times one.
    one = enc.encode("効率")
    ten = enc.encode("効率 " * 10)
    assert ten.values[0] < 3 * one.values[0]
    assert enc.encode("") == SparseVector([], []) == enc.encode_query("。、")


def test_knobs() -> None:
    text = "法人税率の引下げについて伺います"
    plain = SparseEncoder(compounds=False, compound_pairs=False).terms(text)
    assert "法人税率" not in plain and "法人税" not in plain and "法人" in plain
    assert "伺う" in SparseEncoder(stop_lemmas=set()).terms(text)
    assert SparseEncoder(weighting="raw").encode("効率 効率").values == [2.0]
    assert SparseEncoder(weighting="log").encode("効率").values == [1.0]


def test_names_keep_their_spelling_and_spaces_end_compounds(enc: SparseEncoder) -> None:
    terms = enc.terms("柘植 芳文君と岸田文雄総理")
    assert {"柘植", "芳文", "岸田", "文雄", "総理", "岸田文雄総理"} <= set(terms)
    assert "ツゲ" not in terms and "柘植芳文" not in terms  # the space separates two runs
    assert enc.terms("税率 税率") == ["税", "率", "税率"] * 2
    with pytest.raises(ConfigError):
        SparseEncoder(weighting="tfidf")  # type: ignore[arg-type]


def test_thread_safe(enc: SparseEncoder) -> None:
    text = WHITE_PAPER.read_text("utf-8")[:20000]
    pieces = [text[i : i + 500] for i in range(0, len(text), 500)]
    expected = [enc.encode(p) for p in pieces]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(enc.encode, pieces)) == expected
