"""How sources are named to users."""

from retrieval.citation import describe_source


def test_law_article_with_date():
    payload = {"title": "行政手続法", "section": "第二章 申請に対する処分 > 第六条", "date": "2024-04-01", "doc_type": "law"}
    assert describe_source(payload) == "行政手続法 ／ 第二章 申請に対する処分 > 第六条 ／ 2024-04-01"


def test_a_heading_path_that_starts_with_the_title_names_it_once():
    title = "第5章 総務省におけるICT政策の取組状況"
    payload = {"title": title, "section": f"{title} > 第9節 郵政行政の推進 > 1 概要", "doc_type": "white_paper"}
    assert describe_source(payload) == f"{title} ／ 第9節 郵政行政の推進 > 1 概要"
    alone = {"title": title, "section": title, "doc_type": "white_paper"}
    assert describe_source(alone) == title


def test_pdf_page():
    payload = {"title": "制度データモデル クラス図", "section": "", "page": 3, "doc_type": "guideline"}
    assert describe_source(payload) == "制度データモデル クラス図 ／ 3ページ"


def test_diet_speech_names_the_speaker_once():
    payload = {
        "title": "2024-07-30 参議院 外交防衛委員会 閉会後第1号 木原稔（防衛大臣）",
        "section": "国務大臣（木原稔君）",
        "speaker": "木原稔",
        "speaker_position": "防衛大臣",
        "date": "2024-07-30",
        "doc_type": "diet_speech",
    }
    assert describe_source(payload) == "2024-07-30 参議院 外交防衛委員会 閉会後第1号 木原稔（防衛大臣）"
