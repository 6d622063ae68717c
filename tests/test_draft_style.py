"""Written 答弁 style of template drafts (prompts/draft_style.yaml): spoken-to-written rules on real
minutes sentences (data_samples/kokkai, eval/datasets/diet_qa), a property test that numbers and
names never change, period-bound sentences marked with their answer's date, the role order
(現状 -> 取組 -> 今後), and a question's announced theme joining its first 論点."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retrieval.draft import Drafter
from retrieval.draft_style import Candidate, load_draft_style, select_sentences, wareki
from retrieval.embedder import HashEmbedder
from retrieval.extractive import Span, sentence_spans
from retrieval.question_analysis import analyze_question
from retrieval.text.normalize import normalize
from retrieval.text.sparse import SparseEncoder, morphemes

from .support_helpers import offline_judge
from .test_draft import PUBLIC, FakeFinder, real_speech, source

DS = load_draft_style()
DIET_QA = Path(__file__).resolve().parents[1] / "eval" / "datasets" / "diet_qa" / "corpus.jsonl"

# Real sentences of 121314370X00120240823_117 (金融庁監督局長), _015 (財務省主計局次長), _094 (財務大臣).
FSA = "121314370X00120240823_117"
PARDON = "また、事業者ごとにその業況も区々であることから、日本銀行の金融政策の影響を一概に申し上げることは難しい点は御容赦いただきたいというふうには思います。"
RATES = ("今回の金融政策の見直しが今後の長期金利等に与える影響につきましては、一概に申し上げることは困難でございますけれども、"
         "あくまで一般論として申し上げれば、債務残高対ＧＤＰ比の高い我が国におきまして、金利が上昇し、利払い費が増加すれば"
         "政策的経費を圧迫するおそれがあるということと考えております。")
CABINETS = ("その上で、中小企業を支援し、賃上げによる経済活性化策を行うべきだとの御指摘でありますが、第二次安倍内閣以降のアベノミクス"
            "におきましても、中小企業の賃上げ環境を整えるための取引価格の適正化、賃上げの原資となる企業の稼ぐ力の強化、最低賃金の"
            "引上げなどに取り組んでまいりましたし、岸田政権におきましても、賃上げを最重要課題として賃上げ促進税制の活用促進、"
            "価格転嫁対策、中小企業への省力化投資支援などを進めてきたところであります。")


def _sentences_of(speech_id: str) -> list[str]:
    text = normalize(real_speech(speech_id)["speech"].split("\u3000", 1)[1])
    return [s.strip() for _, s in sentence_spans(text) if s.strip()]


def test_real_spoken_sentences_become_written():
    sentences = _sentences_of(FSA)
    assert normalize(PARDON) in sentences
    assert DS.written(normalize(PARDON)) is None  # 「…御容赦いただきたい…」: a written answer leaves it out
    rates = DS.written(normalize(RATES))
    assert rates.endswith("政策的経費を圧迫するおそれがあると考えております。")  # 「ということと」->「と」
    assert "我が国において、" in rates and "影響については、" in rates and "困難ですが、" in rates
    assert "ということと" not in rates and "おきまして" not in rates and "けれども" not in rates
    cabinets = DS.written(CABINETS)
    assert "アベノミクスにおいても" in cabinets and "岸田政権においても" in cabinets  # 「におきましても」->「においても」
    assert cabinets.startswith("第二次安倍内閣以降")  # 「その上で、…との御指摘でありますが、」: the exchange goes
    support = DS.written(normalize(next(s for s in sentences if s.startswith("一方、委員から御指摘"))))
    # The reference to the exchange goes, the rest stays: 「一方、中小企業への影響を…政府としても十分承知しており、」
    assert support.startswith("一方、中小企業への影響を心配する声があることは政府としても十分承知しており、金融庁としては、")
    assert "本年三月の政策決定会合以降" in support and "御指摘" not in support
    # Hedges: 「〜とは思います」->「〜と考えております」; the rules leave no spoken form they know.
    assert DS.written("効果は限定的であるとは思います。") == "効果は限定的であると考えております。"
    for s in (rates, cabinets, support):
        assert DS.findings(s) == []
    assert [f.rule for f in DS.findings(normalize(RATES))] == ["kedomo", "mashite-oki3", "toiukoto-to"]


# -- numbers and names never change ---------------------------------------------------------------

_NUMBER_RE = re.compile(r"[0-9０-９]+(?:[.．][0-9０-９]+)?|[〇一二三四五六七八九十百千万億兆]{2,}")
_KATAKANA_RE = re.compile(r"[ァ-ヶー]{2,}")


def _facts(text: str) -> tuple[Counter, Counter, Counter]:
    """Numbers (digits, 漢数字 figures of two or more characters), katakana words and proper nouns."""
    proper = Counter(m[0] for m in morphemes(text) if m[3] == "固有名詞")
    return Counter(_NUMBER_RE.findall(text)), Counter(_KATAKANA_RE.findall(text)), proper


def _diet_qa_sentences(limit: int = 400) -> list[str]:
    out: list[str] = []
    for line in DIET_QA.read_text(encoding="utf-8").splitlines():
        text = normalize(json.loads(line)["text"])
        out += [s.strip() for _, s in sentence_spans(text) if 15 <= len(s.strip()) <= 200]
        if len(out) >= limit:
            break
    return out


REAL = _diet_qa_sentences() + _sentences_of(FSA) + [normalize(CABINETS)]
SPOKEN_BITS = ["えー、", "まあ、", "あの、", "先ほど申し上げましたとおり、", "委員御指摘のとおり、", "いずれにいたしましても、",
               "私どもとしては、", "というふうには思います", "におきましても", "ということと", "けれども、"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(REAL), st.lists(st.tuples(st.sampled_from(SPOKEN_BITS), st.integers(0, 10**6)), max_size=3))
def test_written_form_keeps_numbers_and_names(sentence: str, inserts: list[tuple[str, int]]):
    # Real answer sentences, with spoken bits inserted after a 読点 or at the start.
    cuts = [0] + [m.end() for m in re.finditer("、", sentence)]
    for bit, at in inserts:
        pos = cuts[at % len(cuts)]
        sentence = sentence[:pos] + bit + sentence[pos:]
        cuts = [0] + [m.end() for m in re.finditer("、", sentence)]
    written = DS.written(sentence)
    if written is None:  # left out whole (御容赦 ...): nothing was changed
        assert DS.drop.search(sentence)
        return
    numbers, katakana, proper = _facts(sentence)
    w_numbers, w_katakana, w_proper = _facts(written)
    assert w_numbers == numbers and w_katakana == katakana
    assert all(w_proper[name] >= count for name, count in proper.items() if len(name) >= 2)
    # Negation survives: every 「ない」「ず」「ません」 of the original is still there.
    for neg in ("ない", "ません", "できず"):
        assert written.count(neg) >= sentence.count(neg) - sentence.count("ございません")


# -- period-bound sentences -------------------------------------------------------------------------


def test_period_bound_sentences_are_recognised():
    for s in (CABINETS, "岸田内閣では、賃上げを後押ししてまいりました。", "今年の春闘における賃上げ率は五％を超えました。",
              "令和十五年度には利払い費の増加が八・七兆円程度になるとの試算をお示ししたところでございます。"):
        assert DS.period_bound(s), s
    for s in ("貸出金利は、金融機関と事業者とが相対で協議を行った上で決定されるものと認識しております。",
              "歴代内閣においても同様の考え方を示してきたところでございます。", "内閣府において検討を進めてまいります。"):
        assert not DS.period_bound(s), s
    assert wareki("2024-08-23") == "令和6年8月23日" and wareki("2019-05-01") == "令和元年5月1日"
    assert wareki("2018-04-01") == "平成30年4月1日"
    assert DS.period_mark("2023-03-01") == "【時点確認】（令和5年3月1日の答弁）"


def _drafter(speech: str, date: str = "2024-08-23") -> Drafter:
    finder = FakeFinder({"中小企業": [source(0, "a", speech, 0.92, doc_type="diet_speech", date=date,
                                              speaker_position="財務大臣")]}, {})
    return Drafter(finder, HashEmbedder(64), SparseEncoder(), None, min_relevance=0.86, judge=offline_judge())


def test_a_period_bound_sentence_is_used_only_with_its_date_and_the_mark():
    draft = _drafter(CABINETS, "2024-08-23").draft("中小企業の賃上げについて政府の取組を伺います。", PUBLIC)
    [sentence] = draft.points[0].sentences
    assert sentence.text.startswith("【時点確認】（令和6年8月23日の答弁）お尋ねの")
    assert "岸田政権においても" in sentence.text and "第二次安倍内閣" in sentence.text


def test_a_period_bound_sentence_is_left_out_when_another_serves():
    speech = (CABINETS + "政府としては、中小企業の賃上げ環境の整備に向けて、価格転嫁対策や省力化投資支援などを進めているところでございます。")
    draft = _drafter(speech).draft("中小企業の賃上げについて政府の取組を伺います。", PUBLIC)
    texts = [s.text for s in draft.points[0].sentences]
    assert texts and not any("岸田政権" in t or "【時点確認】" in t for t in texts)
    assert any("価格転嫁対策" in t for t in texts)


# -- roles ----------------------------------------------------------------------------------------


def test_roles_from_real_sentence_endings():
    fsa = [DS.written(s) for s in _sentences_of(FSA)]
    fsa = [s for s in fsa if s]
    roles = [DS.role(s) for s in fsa]
    assert DS.role(fsa[0]) == "genjo"  # 「…反映されるものではないと認識しております。」
    assert roles[-1] == "kongo"  # 「引き続き、…注視してまいりたいと考えております。」
    assert "torikumi" in roles  # 「…求めてきたところでございます。」
    assert DS.role("新たな制度の在り方を検討しております。") == "genjo"
    assert DS.role("賃上げの重要性については十分に認識しております。") == "genjo"
    assert DS.role("今後とも、関係省庁と連携して対応いたします。") == "kongo"


def _cand(i: int, start: int, text: str, rel: float, bound: bool = False) -> Candidate:
    return Candidate(i, Span(start, start + len(text), text), rel, text, DS.role(text), bound)


def test_sentences_follow_the_role_order_and_at_most_the_limit():
    kongo = _cand(0, 0, "引き続き、状況を注視してまいります。", 0.95)
    torikumi = _cand(0, 50, "金融機関に対して、きめ細かな支援を求めているところでございます。", 0.93)
    genjo = _cand(1, 0, "貸出金利は相対で決定されるものと認識しております。", 0.91)
    extra = _cand(1, 80, "影響は事業者ごとに異なるものと認識しております。", 0.90)
    bound = _cand(2, 0, "本年三月以降、要請を行ったところでございます。", 0.99, bound=True)
    chosen = select_sentences([kongo, torikumi, genjo, extra, bound], DS, 3)
    assert [c.role for c in chosen] == ["genjo", "torikumi", "kongo"]  # 現状 -> 取組 -> 今後
    assert bound not in chosen and extra not in chosen
    chosen = select_sentences([kongo, bound, genjo], DS, 3)  # nothing else serves 取組: the bound one, marked later
    assert [c.role for c in chosen] == ["genjo", "torikumi", "kongo"] and bound in chosen
    assert select_sentences([kongo, genjo, extra], DS, 2) == [genjo, kongo]
    assert select_sentences([bound], DS, 3) == [bound]


# -- the preamble joins the first point ----------------------------------------------------------------


def test_a_preamble_joins_the_first_point_as_its_theme():
    qa = analyze_question("デジタル庁の取組について伺います。第一に、マイナンバーカードの普及の現状について政府の認識を伺います。"
                          "第二に、行政手続のオンライン化をどのように進めるのか伺います。")
    assert [p.label for p in qa.points] == ["第一に", "第二に"]
    first, second = qa.points
    assert first.theme == "デジタル庁の取組について伺います。" and first.text.startswith("デジタル庁の取組について伺います。第一に")
    assert first.question_sentence.startswith("第一に、マイナンバーカードの普及の現状")
    assert second.theme == "" and "オンライン化" in second.terms
    assert first.ministry == second.ministry == "デジタル庁"
    # A question asked at once stays one point; a named ministry is kept.
    [only] = analyze_question("金利上昇における中小企業への影響と今後の対応策について、金融庁の方にお伺いしたい。").points
    assert only.ministry == "金融庁" and only.theme == ""


def test_ministries_from_positions():
    assert DS.ministry_of_position("財務大臣・内閣府特命担当大臣（金融）") == "財務省"
    assert DS.ministry_of_position("金融庁監督局長") == "金融庁"
    assert DS.ministry_of_position("財務省主税局長") == "財務省"
    assert DS.ministry_of_position("内閣総理大臣") == "内閣"
    assert DS.ministry_of_position("デジタル大臣") == "デジタル庁"
    assert DS.ministry_of_position("経済産業副大臣・内閣府副大臣") == "経済産業省"
    assert DS.ministry_of_position(None) is None


def test_topics_lose_their_demonstrative_and_speaker_bound_sentences_are_not_reused():
    from retrieval.draft import load_templates
    from retrieval.question_analysis import Point

    t = load_templates()
    q = "この日本の国際収支について伺います。"
    assert t.topic_of(Point(q, (0, len(q)), question_sentence=q)) == "日本の国際収支"
    q = "こういう状況について伺います。"
    assert t.topic_of(Point(q, (0, len(q)), terms=["国際収支"], question_sentence=q)) == "国際収支"  # 「状況」 alone says nothing
    # diet_qa 121704376X00220250212: 「私からバイデン当時の大統領に対しまして…」 is the prime minister's own act.
    assert not t.usable("今月十三日の日米比首脳テレビ会議の場においても、私からバイデン当時の大統領に対して、懸念の払拭を求めた。")
    assert not t.usable("防衛費の話もありましたが、これは別に、防衛費に回すために余剰をつくっているわけではない。")


def test_a_documents_plain_sentence_is_reported_in_the_answers_form():
    from retrieval.draft_style import load_draft_style

    ds = load_draft_style()
    # The white paper in data_samples (r05_chapter5): である調.
    said = "社会全体でデジタル化が進む中、必要不可欠なものとなりつつある。"
    assert ds.as_reported(said) == "社会全体でデジタル化が進む中、必要不可欠なものとなりつつあると承知しております。"
    assert ds.as_reported("中間報告として、郵便局におけるマイナンバーカードの普及・活用策が取りまとめられた。").endswith(
        "取りまとめられたと承知しております。")
    law = "行政庁は、申請者の求めに応じ、当該申請に係る審査の進行状況を示すよう努めなければならない。"
    assert ds.as_reported(law, "law").endswith("示すよう努めなければならないこととされております。")
    # Already in the answer's form, or not a sentence end of the plain form: unchanged.
    for polite in ("検討してまいります。", "進めてきたところでございます。", "対象となります。", "ございませんでした。"):
        assert ds.as_reported(polite) == polite
