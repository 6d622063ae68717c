"""Extractive answers say who says what: law and provision, speaker and meeting, document."""

from __future__ import annotations

from retrieval.answer import quote_groups
from retrieval.attribution import article_anchor, attribute, provision_of, qualifier_pattern, wareki
from retrieval.citation import source_link
from retrieval.extractive import candidate_sentences, with_qualifiers

# The real text of 行政手続法第五条 as the law reader indexes it (data_samples/laws).
ARTICLE_5 = ("第五条(審査基準)\n行政庁は、審査基準を定めるものとする。\n"
             "2 行政庁は、審査基準を定めるに当たっては、許認可等の性質に照らしてできる限り具体的なものとしなければならない。\n"
             "3 行政庁は、行政上特別の支障があるときを除き、法令により申請の提出先とされている機関の事務所における"
             "備付けその他の適当な方法により審査基準を公にしておかなければならない。")
LAW = {"doc_type": "law", "doc_id": "law:405AC0000000088", "title": "行政手続法", "law_name": "行政手続法",
       "article": "第五条", "article_num": "5", "section": "第二章 申請に対する処分 > 第五条", "supplementary": False,
       "source_url": "https://laws.e-gov.go.jp/law/405AC0000000088"}
SPEECH = {"doc_type": "diet_speech", "speaker": "鈴木俊一", "speaker_position": "国務大臣", "house": "参議院",
          "meeting": "財政金融委員会", "date": "2024-08-23"}


def test_a_law_sentence_names_its_law_article_and_paragraph():
    start = ARTICLE_5.index("行政庁は、審査基準を定めるものとする")
    text = attribute("行政庁は、審査基準を定めるものとする。", LAW, ARTICLE_5, start)
    assert text == "行政手続法第五条第一項は、「行政庁は、審査基準を定めるものとする。」と定めています。"
    third = ARTICLE_5.index("3 行政庁は")
    assert provision_of(LAW, ARTICLE_5, third) == "第五条第三項"
    # The paragraph number of the line is not part of the quote.
    assert attribute(ARTICLE_5[third:], LAW, ARTICLE_5, third).startswith("行政手続法第五条第三項は、「行政庁は、行政上")


def test_a_second_paragraph_of_the_same_article_reads_dou_jou():
    second = ARTICLE_5.index("2 行政庁は")
    text = attribute("行政庁は、審査基準を定めるに当たっては、…。", LAW, ARTICLE_5, second,
                     previous=("law:405AC0000000088", "第五条第一項"))
    assert text.startswith("同条第二項は、「")


def test_a_single_paragraph_article_is_cited_by_article_only():
    passage = "第一条(目的)\nこの法律は、行政運営における公正の確保と透明性の向上を図ることを目的とする。"
    payload = {**LAW, "article": "第一条", "article_num": "1"}
    assert provision_of(payload, passage, passage.index("この法律")) == "第一条"


def test_a_speech_is_attributed_to_its_speaker_date_and_meeting_and_inner_quotes_nest():
    text = attribute("「デフレ脱却」の宣言はいたしておりません。", SPEECH)
    assert text == "鈴木俊一（国務大臣）は、令和6年8月23日の参議院財政金融委員会で、「『デフレ脱却』の宣言はいたしておりません。」と答弁しています。"
    member = {**SPEECH, "speaker": "堂込麻紀子", "speaker_position": None, "speaker_group": "各派に属しない議員"}
    assert attribute("対策が講ぜられるべきと考えております。", member).startswith("堂込麻紀子議員は、令和6年8月23日の")
    assert attribute("対策が講ぜられるべきと考えております。", member).endswith("と述べています。")


def test_documents_are_named_by_title_and_last_heading():
    paper = {"doc_type": "white_paper", "title": "第5章 総務省におけるICT政策の取組状況",
             "section": "第5章 総務省におけるICT政策の取組状況 > 第9節 郵政行政の推進 > イ 郵便局を通じたマイナンバーカードの普及・活用の推進"}
    assert attribute("郵便局の拠点性を活かす。", paper) == (
        "「第5章 総務省におけるICT政策の取組状況」の「郵便局を通じたマイナンバーカードの普及・活用の推進」では、"
        "「郵便局の拠点性を活かす。」とされています。")
    guide = {"doc_type": "guideline", "title": "API導入実践ガイドブック",
             "section": "2. 基本事項 > 2.3. 本ガイドブックで説明するAPIについて"}
    assert attribute("RESTを推奨する。", guide).startswith("「API導入実践ガイドブック」の「本ガイドブックで説明するAPIについて」では、")
    faq = {"doc_type": "faq", "title": "眼鏡の購入費用", "section": "眼鏡の購入費用"}
    assert attribute("医療費控除の対象となります。", faq) == "「眼鏡の購入費用」の回答では、「医療費控除の対象となります。」とされています。"


def test_wareki_dates():
    assert wareki("2024-08-23") == "令和6年8月23日"
    assert wareki("2019-05-01") == "令和元年5月1日" and wareki("2019-04-30") == "平成31年4月30日"
    assert wareki("") == "" and wareki("2024-13-01") == ""


def test_law_links_open_the_article_and_supplementary_provisions_the_law():
    assert article_anchor(LAW) == "Mp-Ch_2-At_5"
    assert source_link(LAW) == "https://laws.e-gov.go.jp/law/405AC0000000088#Mp-Ch_2-At_5"
    nested = {**LAW, "article_num": "12_2", "section": "第二章の二 審査 > 第一節 通則 > 第十二条の二"}
    assert article_anchor(nested) == "Mp-Ch_2_2-Se_1-At_12_2"
    assert source_link({**LAW, "supplementary": True}) == LAW["source_url"]
    assert source_link({"doc_type": "faq", "source_url": "https://www.nta.go.jp/x.htm"}) == "https://www.nta.go.jp/x.htm"


def test_a_chosen_rule_keeps_its_exception_and_an_exception_gets_its_rule():
    passage = ("在宅勤務は週2日までとする。ただし、育児又は介護を行う職員は週3日までとすることができる。"
               "在宅勤務の申請は、前月末までに所属長に行う。")
    spans = candidate_sentences(passage)
    rule, exception, other = spans
    kept = with_qualifiers([(0, rule, 0.9)], [passage], qualifier_pattern())
    assert [s.text for _, s, _ in kept] == [rule.text, exception.text]
    alone = with_qualifiers([(0, exception, 0.9)], [passage], qualifier_pattern())
    assert [s.text for _, s, _ in alone] == [rule.text, exception.text]
    # Not a qualifier: the next sentence is not added.
    assert [s.text for _, s, _ in with_qualifiers([(0, other, 0.9)], [passage], qualifier_pattern())] == [other.text]
    # One quote, attributed once.
    groups = quote_groups(kept, [passage], [{"doc_type": "guideline", "title": "勤務要領"}])
    assert len(groups) == 1 and len(groups[0][1]) == 2


def test_paragraphs_of_one_article_are_quoted_one_by_one():
    spans = candidate_sentences(ARTICLE_5)
    picked = [(0, s, 0.9) for s in spans]
    groups = quote_groups(picked, [ARTICLE_5], [LAW])
    assert [len(g[1]) for g in groups] == [1, 1, 1]
    assert [provision_of(LAW, ARTICLE_5, g[1][0].start) for g in groups] == ["第五条第一項", "第五条第二項", "第五条第三項"]


def test_neighbouring_items_are_quoted_one_by_one_and_verbatim():
    """Two 号 side by side: the dropped item number 「七」 must not vanish inside one joined quote."""
    passage = ("六 行政指導 行政機関が特定の者に一定の作為又は不作為を求める指導であって処分に該当しないものをいう。\n"
               "七 届出 行政庁に対し一定の事項の通知をする行為であって、法令により当該通知が義務付けられているものをいう。")
    payload = {**LAW, "article": "第二条", "article_num": "2"}
    spans = candidate_sentences(passage)
    groups = quote_groups([(0, s, 0.9) for s in spans], [passage], [payload])
    assert [len(g[1]) for g in groups] == [1, 1]
    for _, group in groups:
        assert "".join(s.text for s in group) in passage.replace("\n", "")


def test_an_item_is_cited_with_its_number_and_without_it_in_the_quote():
    passage = ("第二条(定義)\nこの法律において、次の各号に掲げる用語の意義は、当該各号に定めるところによる。\n"
               "六 行政指導 行政機関がその任務又は所掌事務の範囲内において一定の行政目的を実現するため特定の者に"
               "一定の作為又は不作為を求める指導、勧告、助言その他の行為であって処分に該当しないものをいう。")
    payload = {**LAW, "article": "第二条", "article_num": "2", "section": "第一章 総則 > 第二条"}
    start = passage.index("六 行政指導")
    assert provision_of(payload, passage, start) == "第二条第六号"
    (span,) = [s for s in candidate_sentences(passage) if "行政指導" in s.text]
    assert span.text.startswith("行政指導 行政機関")  # the item number is not quoted
    assert attribute(span.text, payload, passage, start).startswith("行政手続法第二条第六号は、「行政指導 行政機関")
