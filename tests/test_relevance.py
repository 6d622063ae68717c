"""The one relevance judgement: cosine, coverage of the question's content nouns, vetoes."""

from __future__ import annotations

from retrieval.relevance import RelevanceGate, content_nouns

GATE = RelevanceGate(floor=0.845, mid=0.885, sure=0.905)
API_TOOLS = "API管理ツール API導入実践ガイドブック API管理ツールを利用することによってAPI開発の自動化、公開やテストの合理化が期待できます。"
L_ALERT = "Lアラート 災害情報を多様なメディアに対して一斉に送信する共通基盤であるLアラートの普及を推進している。"


def test_content_nouns_leave_out_generic_words_and_numbers():
    nouns = content_nouns("インプラント治療費は医療費控除の対象か")
    assert "インプラント" in nouns and "対象" not in nouns
    assert "方法" not in content_nouns("インボイスの登録番号を調べる方法")


def test_a_high_cosine_answers_and_a_low_one_refuses():
    assert GATE.judge("API管理ツールの効果", [(0.93, API_TOOLS)]).answerable
    low = GATE.judge("富士山の標高", [(0.80, API_TOOLS)])
    assert not low.answerable and "下限" in low.reason and low.relevant == [False]


def test_between_the_thresholds_every_content_noun_must_be_covered():
    # 「Lアラートってなに」: a low cosine (short question), but the passage is about exactly that.
    assert GATE.judge("Lアラートってなに", [(0.874, L_ALERT)]).answerable
    # 「APIのバージョン管理は」: API and 管理 are there, バージョン is not.
    judged = GATE.judge("APIのバージョン管理は", [(0.90, API_TOOLS)])
    assert not judged.answerable and "バージョン" in judged.reason and judged.missing == ["バージョン"]


def test_a_missing_distinctive_term_refuses_even_with_most_words_covered():
    passage = "医療費控除 歯の治療費は、医療費控除の対象となります。"
    judged = GATE.judge("インプラント治療費は医療費控除の対象か", [(0.903, passage)])
    assert not judged.answerable and "インプラント" in judged.reason


def test_a_question_asking_for_an_amount_needs_an_amount_in_the_passages():
    fee = "開示請求をする者は、政令で定めるところにより、実費の範囲内において政令で定める額の開示請求に係る手数料を納めなければならない。"
    assert not GATE.judge("情報公開請求の手数料は1件何円", [(0.95, fee)]).answerable
    priced = fee + "手数料の額は一件につき三百円とする。"
    assert GATE.judge("情報公開請求の手数料は1件何円", [(0.95, priced)]).answerable
    # A question about a person needs a named person.
    assert not GATE.judge("個人情報保護委員会の委員長は誰", [(0.95, "委員会は、委員長及び委員八人をもって組織する。")]).answerable


def test_only_passages_near_the_best_one_are_used():
    judged = GATE.judge("Lアラートってなに", [(0.874, L_ALERT), (0.86, API_TOOLS), (0.83, API_TOOLS)])
    assert judged.relevant == [True, True, False]
    # The plain cosine gate (sure <= floor), as tests and other models may configure it.
    plain = RelevanceGate(floor=0.845, mid=0.885, sure=-1.0).judge("x", [(0.1, "a"), (-0.5, "b")])
    assert plain.answerable and plain.relevant == [True, True]


def test_a_drafts_point_is_judged_on_its_subject_not_on_its_question_words():
    # 「第一に」「現状」「認識」 are how a Diet question asks, not what it is about.
    passage = "郵便局を通じたマイナンバーカードの普及・活用の推進 住民にとって、マイナンバーカードはデジタル社会のパスポートである。"
    point = "デジタル庁の取組について伺います。第一に、マイナンバーカードの普及の現状について政府の認識を伺います。"
    judged = GATE.judge(point, [(0.879, passage)])
    assert judged.answerable and judged.missing == []
