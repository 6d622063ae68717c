"""Question analysis on real Diet speeches (data_samples, diet_qa) and standard 質問主意書 texts."""

from __future__ import annotations

import json
from pathlib import Path

from retrieval.question_analysis import analyze_question

ROOT = Path(__file__).resolve().parents[1]
KOKKAI = ROOT / "data_samples" / "kokkai"
DIET_QA = ROOT / "eval" / "datasets" / "diet_qa" / "queries.jsonl"
GENERIC = {"取組", "取り組み", "取り組む", "政府", "見解", "対応", "状況", "考え", "大臣"}

SHUISHO_TAX = """令和六年十一月二十九日提出
質問第一二号

法人税率の引下げの効果に関する質問主意書

提出者　山田太郎

法人税率の引下げの効果に関する質問主意書

　政府は、平成二十七年度以降、国際競争力の強化を目的として法人税率の引下げを進めてきた。しかし、企業の内部留保は増え続け、賃金や設備投資への波及は限られているとの指摘がある。
　以上を踏まえ、以下質問する。

一　法人税率の引下げが設備投資及び賃金の引上げに与えた効果について、政府はどのように分析しているのか。分析の結果を示されたい。

二　企業の内部留保の増加と法人税率の引下げとの関係について、政府の見解を明らかにされたい。

三　今後、法人税率を引き上げる予定はあるか。

　右質問する。
"""

SHUISHO_MYNA = """マイナンバーカードと健康保険証の一体化に関する質問主意書

　政府は、令和六年十二月二日以降、健康保険証の新規発行を停止し、マイナンバーカードを健康保険証として利用する仕組みに移行した。

一　マイナ保険証の利用率について
　（一）　直近の利用率は何パーセントか。
　（二）　利用率が低い理由をどのように分析しているか。

二　資格確認書の交付について、交付の対象者及び交付の時期を明らかにされたい。

三　医療機関においてマイナンバーカードの読み取りができない事例の件数を示されたい。

　右質問する。

右の質問主意書を提出する。
　　令和六年十二月十日
提出者　鈴木花子
参議院議長　関口昌一　殿
"""

SHUISHO_DEFENSE = """防衛費の財源確保に関する質問主意書

1.防衛力整備計画の総額四十三兆円のうち、防衛費の財源として増税で賄う額は幾らか。
2.防衛費の増額に伴う防衛力強化資金の残高の見通しを示されたい。

右質問する。
"""


def _member_speeches() -> list[dict]:
    """Speeches in the NDL samples by a speaker without government position (members)."""
    out = []
    for path in sorted(KOKKAI.glob("*.json")):
        for rec in json.loads(path.read_text(encoding="utf-8"))["speechRecord"]:
            if rec["speaker"] == "会議録情報" or rec["speakerPosition"] or rec["speakerRole"]:
                continue
            if len(rec["speech"]) >= 200:
                out.append(rec)
    return out


def _diet_qa() -> list[dict]:
    return [json.loads(line) for line in DIET_QA.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_shuisho_points_labels_and_header():
    qa = analyze_question(SHUISHO_TAX)
    assert qa.kind == "shitsumon_shuisho"
    assert qa.member == "山田太郎"
    assert [p.label for p in qa.points] == ["一", "二", "三"]
    # The preamble (前文) is context of item 一, not a point of its own; headers are nowhere.
    assert "国際競争力" in qa.points[0].text and qa.points[0].text.endswith("示されたい。")
    assert all("提出者" not in p.text and "右質問する" not in p.text for p in qa.points)
    assert qa.points[1].question_sentence.endswith("明らかにされたい。")
    assert qa.points[2].question_sentence == "三 今後、法人税率を引き上げる予定はあるか。"
    for p in qa.points:
        assert qa.text[p.span[0]:p.span[1]] == p.text
        assert "法人税率" in p.terms
        assert not GENERIC & set(p.terms)
    assert qa.points[0].terms[0] == "法人税率" or "設備投資" in qa.points[0].terms[:3]


def test_shuisho_sub_items_stay_in_their_item():
    qa = analyze_question(SHUISHO_MYNA)
    assert [p.label for p in qa.points] == ["一", "二", "三"]
    assert "(一)" in qa.points[0].text and "(二)" in qa.points[0].text
    assert qa.member == "鈴木花子" and qa.house == "参議院"
    assert "マイナンバーカード" in qa.points[2].terms
    assert "資格確認書" in qa.points[1].terms


def test_shuisho_arabic_numbering():
    qa = analyze_question(SHUISHO_DEFENSE)
    assert [p.label for p in qa.points] == ["1", "2"]
    assert "防衛費" in qa.points[0].terms and "防衛力強化資金" in qa.points[1].terms
    assert qa.member is None and qa.party is None and qa.committee is None


def test_cue_phrases_split_a_committee_speech():
    text = ("○佐藤一郎君 立憲民主党の佐藤一郎です。本日は、予算委員会で質問の機会をいただきありがとうございます。"
            "第一に、法人税率の引下げについて伺います。引下げの効果をどのように評価しているのか、大臣の見解を伺いたい。"
            "第二に、防衛費の財源についてお尋ねします。防衛費の増額に伴う増税の時期はいつか。"
            "最後に、マイナンバーカードの普及状況について、政府の取組をお示しください。")
    qa = analyze_question(text)
    assert qa.kind == "committee"
    assert (qa.member, qa.party, qa.committee, qa.house) == ("佐藤一郎", "立憲民主党", "予算委員会", None)
    assert [p.label for p in qa.points] == ["第一に", "第二に", "最後に"]
    assert qa.points[0].text.startswith("立憲民主党")  # the greeting attaches to the first point
    assert "法人税率" in qa.points[0].terms and "防衛費" in qa.points[1].terms
    assert "マイナンバーカード" in qa.points[2].terms
    for p in qa.points:
        assert not GENERIC & set(p.terms)


def test_a_theme_announced_first_is_context_and_an_announced_topic_is_a_point():
    text = ("本日は、デジタル行政について質問をいたします。まず、マイナ保険証の利用率についてお尋ねします。"
            "利用率が低迷している原因をどう分析しているのか。また、紙の保険証の廃止について伺います。")
    qa = analyze_question(text)
    # The theme of the whole speech opens the first point instead of standing alone as a 論点;
    # 「また、…について伺います。」 opens its own, though both are about 保険証.
    assert [p.text[:6] for p in qa.points] == ["本日は、デジ", "また、紙の保"]
    assert "利用率" in qa.points[0].terms and "廃止" in " ".join(qa.points[1].terms)
    # Topics announced one after another are each a 論点 (the minister answers each).
    qa = analyze_question("まず、防衛費の財源について伺います。次に、少子化対策について伺います。")
    assert [p.label for p in qa.points] == ["まず", "次に"]


def test_real_speech_points_and_terms():
    # diet_qa 121303815X01320240730_006: one question (two clauses) after context.
    q = next(q for q in _diet_qa() if q["_id"] == "121303815X01320240730_006")
    qa = analyze_question(q["text"])
    assert len(qa.points) == 1
    p = qa.points[0]
    assert p.question_sentence.endswith("大臣の決意をお示しください。")
    assert "服務規定違反" in p.terms and "再発防止" in p.terms
    assert not GENERIC & set(p.terms)


def test_member_detected_from_ndl_labels():
    speeches = _member_speeches()
    assert len(speeches) > 100
    correct = sum(1 for r in speeches if (m := analyze_question(r["speech"]).member) and r["speaker"].startswith(m))
    # Measured: 161/161 (衆議院 labels 「○中山委員」 give the surname only).
    assert correct / len(speeches) >= 0.98


def test_chair_label_and_self_introduction():
    rec = next(r for r in _member_speeches() if r["speech"].startswith("○佐藤正久君"))
    qa = analyze_question(rec["speech"])
    assert qa.member == "佐藤正久" and qa.party == "自由民主党"
    chair = analyze_question("○委員长（小野田紀美君）　ただいまから外交防衛委員会を開会いたします。".replace("长", "長"))
    assert chair.member == "小野田紀美" and chair.committee == "外交防衛委員会" and chair.house == "参議院"


def test_detection_on_diet_qa_is_precise():
    queries = _diet_qa()[:100]
    members = [(q, a) for q in queries if (a := analyze_question(q["text"])).member]
    # diet_qa texts have their speaker label removed: only self-introductions remain.
    # Measured on the first 100: 11 detected, 11 correct; on all 500: 44/44.
    assert len(members) >= 10
    assert all(q["metadata"]["speaker"].startswith(a.member) for q, a in members)
    assert all(a.party and a.party.split("・")[0][:2] in q["metadata"]["speaker_group"] for q, a in members)


def test_committee_detection_is_conservative():
    # 「今日は財務金融委員会であります」 names this committee; 「昨年の外務委員会でも」 does not.
    qs = _diet_qa()
    found = [(q, a) for q in qs if (a := analyze_question(q["text"])).committee]
    assert len(found) >= 4  # measured 5 of 500, all correct
    assert all(a.committee == q["metadata"]["committee"] for q, a in found)
    assert all(a.house in (None, q["metadata"]["house"]) for q, a in found)


def test_every_diet_qa_query_has_a_point():
    queries = _diet_qa()
    assert len(queries) == 500
    for q in queries:
        qa = analyze_question(q["text"])
        assert qa.points, q["_id"]
        for p in qa.points:
            assert qa.text[p.span[0]:p.span[1]] == p.text
            assert p.question_sentence
        spans = [p.span for p in qa.points]
        assert spans == sorted(spans) and all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


def test_empty_and_plain_text():
    assert analyze_question("").points == []
    qa = analyze_question("法人税率の引下げの効果は何か。")
    assert qa.kind == "plain" and len(qa.points) == 1 and qa.points[0].label == ""
    assert "法人税率" in qa.points[0].terms


def test_a_sentence_that_only_names_the_subject_is_the_theme_of_the_question_after_it():
    # The 答弁作成 page showed 「行政手続法について伺います。」 as a 論点 of its own.
    a = analyze_question("行政手続法について伺います。申請に対する処分について、行政庁は標準処理期間を定めるよう"
                         "努めることとされていますが、その趣旨について政府の見解を伺います。")
    assert len(a.points) == 1 and a.points[0].theme == "行政手続法について伺います。"
    assert "標準処理期間" in a.points[0].text
    # Alone, it is the question.
    assert len(analyze_question("行政手続法について伺います。").points) == 1
