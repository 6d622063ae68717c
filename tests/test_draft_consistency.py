"""What the 答弁作成 page and the exports say about a draft must agree with the draft (fast: the
fake finder of test_draft, the hash embedder, a scripted checker):

- the relevance gate is one field per candidate: a candidate below it is never used, numbered,
  listed as a source or checked against, and a point with nothing usable says so;
- the 矛盾チェック is stamped with the text it was computed on: an edit makes it 「未確認」 until it
  is re-checked (cached by text and evidence), and an export never states 「なし」 for a text
  that was not checked;
- a redraft rewrites only the points whose choices changed and that were not edited, keeps
  every choice, and keeps an edited point's text citing the same passages.
"""

from __future__ import annotations

import io

import pytest

from app.draft_check import CheckCache, check_status, is_current, recheck, recheck_all
from app.draft_edit import apply_choices, apply_text, choices_of, points_to_redraft
from app.draft_export import draft_to_docx, draft_to_markdown, listed_sources
from retrieval.draft import Drafter
from retrieval.draft_types import NEEDS_REVIEW, PastAnswer
from retrieval.embedder import HashEmbedder
from retrieval.text.sparse import SparseEncoder
from retrieval.verify import Conflict

from .support_helpers import offline_judge
from .test_draft import PUBLIC, FakeFinder, source

FX_TEXT = "政府は為替相場の安定を図るため為替介入を実施している。介入の総額は五兆円である。"
LAW_TEXT = "財務大臣は、外国為替相場の安定に努めるものとする。"
FUJI_TEXT = "富士山の登山道は、地方公共団体が落石対策を実施している。"
QUESTION = "一 為替介入の実施状況について政府の見解を示されたい。\n二 富士山の登山道の落石対策を示されたい。"


class ScriptedChecker:
    """Flags every claim that says 「していない」 against each evidence passage; counts its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], list[str]]] = []

    def check(self, claims, evidence):
        self.calls.append((list(claims), [e.chunk_id for e in evidence]))
        return [Conflict(c, e.text.split("。")[0] + "。", e, "polarity", "肯定と否定が異なります", 0.9)
                for c in claims if "していない" in c for e in evidence]


def drafter(checker=None) -> Drafter:
    finder = FakeFinder(
        {"為替介入": [source(0, "fx", FX_TEXT, 0.93), source(0, "offtopic", "本日の委員会は散会いたします。", 0.70)],
         "富士山": [source(0, "fuji", FUJI_TEXT, 0.91), source(0, "weak", "登山の季節は夏である。", 0.60)]},
        {"為替介入": [source(0, "law", LAW_TEXT, 0.90, doc_type="law"), source(0, "weakdoc", "関税定率法の一部。", 0.50)],
         "富士山": [source(0, "weakdoc2", "国立公園の指定について。", 0.40)]},
    )
    return Drafter(finder, HashEmbedder(64), SparseEncoder(), checker, min_relevance=0.86, judge=offline_judge())


def docx_text(draft) -> str:
    import docx

    buf = io.BytesIO()
    draft_to_docx(draft, buf)
    doc = docx.Document(io.BytesIO(buf.getvalue()))
    parts = [p.text for p in doc.paragraphs] + [c.text for t in doc.tables for r in t.rows for c in r.cells]
    return "\n".join(parts)


# -- A: one gate decision per candidate -----------------------------------------------------------


def test_a_candidate_below_the_gate_is_never_used_numbered_listed_or_checked():
    checker = ScriptedChecker()
    draft = drafter(checker).draft(QUESTION, PUBLIC)
    fx, fuji = draft.points
    assert [(pa.answer.chunk_id, pa.relevant) for pa in fx.past_answers] == [("fx", True), ("offtopic", False)]
    assert [(d.source.chunk_id, d.relevant) for d in fx.documents] == [("law", True), ("weakdoc", False)]
    below = [pa.answer for pa in fx.past_answers + fuji.past_answers if not pa.relevant] + \
            [d.source for d in fx.documents + fuji.documents if not d.relevant]
    assert {s.chunk_id for s in below} == {"offtopic", "weak", "weakdoc", "weakdoc2"}
    # Never used: not cited, not numbered, not a source, not evidence of the 矛盾チェック.
    cited = {n for pd in draft.points for s in pd.sentences for n in s.citations}
    assert all(s.n == 0 and s.n not in cited for s in below)
    assert not {s.chunk_id for s in draft.sources} & {s.chunk_id for s in below}
    assert all(set(ids) <= {"fx", "law", "fuji"} for _, ids in checker.calls) and checker.calls
    assert [s.chunk_id for s in fx.evidence()] == ["fx", "law"]
    # The exports list none of them.
    md, body = draft_to_markdown(draft), docx_text(draft)
    for text in (md, body):
        assert "資料offtopic" not in text and "資料weak" not in text and "資料weakdoc" not in text
        assert "資料fx" in text and "資料fuji" in text


def test_a_point_whose_relevant_candidates_are_all_dropped_says_so_and_lists_no_source():
    draft = drafter().draft(QUESTION, PUBLIC, kept={"fuji": False})
    fuji = draft.points[1]
    assert fuji.needs_review and fuji.text == NEEDS_REVIEW
    assert not any(pa.used for pa in fuji.past_answers) and not any(d.used for d in fuji.documents)
    assert "資料fuji" not in "\n".join(s.label for s in listed_sources(draft))
    assert "資料fuji" not in docx_text(draft) and "資料fuji" not in draft_to_markdown(draft)


def test_apply_choices_sets_only_the_relevant_candidates_in_the_order_the_page_lists_them():
    draft = drafter().draft(QUESTION, PUBLIC)
    fx = draft.points[0]
    apply_choices(fx, [True], [False])  # the page shows one answer (fx) and one document (law)
    assert [(pa.answer.chunk_id, pa.used) for pa in fx.past_answers] == [("fx", True), ("offtopic", False)]
    assert [(d.source.chunk_id, d.kept, d.used) for d in fx.documents] == [("law", False, False), ("weakdoc", True, False)]


# -- B: a 矛盾チェック that is always current ------------------------------------------------------------


def test_an_edit_makes_the_check_stale_and_a_recheck_finds_the_contradiction():
    checker = ScriptedChecker()
    draft = drafter(checker).draft(QUESTION, PUBLIC)
    fx = draft.points[0]
    status = check_status(fx)
    assert status.state == "none" and status.line == f"矛盾の可能性: なし（{len(fx.sentences)} 文を過去答弁・資料 2 件と照合）"
    n = fx.sentences[0].citations[0]
    assert apply_text(draft, fx, f"政府は為替介入を実施していない[{n}]。", offline_judge())
    assert fx.edited and not is_current(fx) and check_status(fx).state == "unchecked"
    # Before a re-check an export says 「未確認」 for this point, never 「なし」, and shows no stale conflicts.
    md = draft_to_markdown(draft)
    assert "- 論点1：矛盾の可能性: 未確認" in md and "論点1：矛盾の可能性: なし" not in md
    cache = CheckCache()
    assert recheck(fx, checker, cache) and cache.runs == 1
    assert checker.calls[-1] == (["政府は為替介入を実施していない。"], ["fx", "law"])
    status = check_status(fx)
    assert status.state == "found" and len(status.conflicts) == 2 and status.line.startswith("矛盾の可能性: あり 2 件")
    body = docx_text(draft)
    assert "政府は為替介入を実施していない。" in body and "肯定と否定が異なります" in body
    assert "論点1：矛盾の可能性: あり 2 件" in body and "論点1：矛盾の可能性: なし" not in body
    assert "検出されませんでした" not in body


def test_rechecks_are_cached_by_text_and_evidence():
    checker = ScriptedChecker()
    draft = drafter(checker).draft(QUESTION, PUBLIC)
    fx, cache = draft.points[0], CheckCache()
    drafted = fx.text
    assert recheck_all(draft, checker, cache) == 0  # the drafter's own check is current
    apply_text(draft, fx, "為替介入を実施していない[1]。", offline_judge())
    assert recheck(fx, checker, cache) and not recheck(fx, checker, cache)  # unchanged: not again
    apply_text(draft, fx, drafted, offline_judge())
    assert recheck(fx, checker, cache) and check_status(fx).state == "none"
    apply_text(draft, fx, "為替介入を実施していない[1]。", offline_judge())  # back to a text already checked
    calls = len(checker.calls)
    assert not recheck(fx, checker, cache) and len(checker.calls) == calls and check_status(fx).state == "found"
    # Other evidence (a candidate dropped) is another check.
    fx.documents[0].kept = False
    assert not is_current(fx) and recheck(fx, checker, cache)
    assert checker.calls[-1][1] == ["fx"] and len(check_status(fx).conflicts) == 1
    assert cache.runs == 3


def test_without_a_checker_an_edited_point_stays_unchecked_in_every_export():
    draft = drafter(ScriptedChecker()).draft(QUESTION, PUBLIC)
    fx = draft.points[0]
    apply_text(draft, fx, "為替介入を実施していない[1]。", offline_judge())
    assert not recheck(fx, None) and check_status(fx).state == "unchecked"
    assert "論点1：矛盾の可能性: 未確認" in docx_text(draft)
    assert "【矛盾の可能性あり】" not in draft_to_markdown(draft)


# -- C: redraft keeps the official's work -------------------------------------------------------------


def test_redraft_rewrites_only_changed_unedited_points_and_keeps_edits_and_drops():
    d = drafter(ScriptedChecker())
    draft = d.draft(QUESTION, PUBLIC)
    fx, fuji = draft.points
    drafted_with = [choices_of(pd) for pd in draft.points]
    fuji_n = fuji.sentences[0].citations[0]
    assert draft.source(fuji_n).chunk_id == "fuji"
    edited = f"富士山の登山道については、落石対策を進めているところでございます。[{fuji_n}]"
    apply_text(draft, fuji, edited, offline_judge())
    # The drafter drops the law under point 1 and (under the edited point 2) its only answer.
    fx.documents[0].kept = False
    fuji.past_answers[0].kept = False
    assert points_to_redraft(draft, drafted_with) == [0]
    d.redraft(draft, [0])
    # Point 1 no longer cites the dropped law; every choice is as the drafter left it.
    assert fx.sentences and all(draft.source(n).chunk_id == "fx" for s in fx.sentences for n in s.citations)
    assert [d_.kept for d_ in fx.documents] == [False, True] and not fuji.past_answers[0].kept
    # Point 2 is the drafter's text, still citing the same passage (numbers follow the sources).
    assert fuji.edited and [s.text for s in fuji.sentences] == ["富士山の登山道については、落石対策を進めているところでございます。"]
    assert [draft.source(n).chunk_id for s in fuji.sentences for n in s.citations] == ["fuji"]
    assert fuji.text == edited.replace(f"[{fuji_n}]", f"[{fuji.sentences[0].citations[0]}]")
    assert sorted(s.n for s in draft.sources) == list(range(1, len(draft.sources) + 1))
    # The redrafted point was checked on its new text.
    assert is_current(fx)


def test_redraft_of_one_point_discards_its_edits_when_asked():
    d = drafter()
    draft = d.draft(QUESTION, PUBLIC)
    fx = draft.points[0]
    drafted = fx.text
    apply_text(draft, fx, "全く別の文です[1]。", offline_judge())
    assert points_to_redraft(draft, [choices_of(pd) for pd in draft.points]) == []
    d.redraft(draft, [0])
    assert not fx.edited and fx.text == drafted


@pytest.mark.parametrize("dropped", [["fx"], ["fx", "law"]])
def test_redraft_after_dropping_candidates_matches_a_fresh_draft_with_the_same_choices(dropped):
    d = drafter()
    draft = d.draft(QUESTION, PUBLIC)
    for pa in draft.points[0].past_answers:
        pa.kept = pa.answer.chunk_id not in dropped
    for doc in draft.points[0].documents:
        doc.kept = doc.source.chunk_id not in dropped
    d.redraft(draft, [0])
    fresh = d.draft(QUESTION, PUBLIC, kept={c: False for c in dropped})
    assert draft.points[0].text == fresh.points[0].text
    assert draft.points[0].needs_review == fresh.points[0].needs_review


def test_every_phrase_the_page_and_the_exports_use_is_in_prompts():
    import re
    from pathlib import Path

    from app.draft_check import phrase

    root = Path(__file__).resolve().parents[1]
    used = set()
    for name in ("app/ui_draft.py", "app/draft_check.py", "app/draft_export.py"):
        used |= set(re.findall(r'["\']((?:conflict|candidates|redraft|followups)\.[a-z_]+)["\']',
                               (root / name).read_text(encoding="utf-8")))
    assert {"conflict.none", "conflict.unchecked", "candidates.low_relevance", "candidates.answers",
            "candidates.none_found", "redraft.point"} <= used
    values = {"sentences": 1, "evidence": 1, "count": 1, "gate": "0.89", "points": "1", "seconds": "0.1", "similarity": "0.9"}
    for key in used:
        assert phrase(key, **values), key
    with pytest.raises(KeyError):
        phrase("conflict.none")  # a placeholder without a value is an error, never a half phrase


def test_the_same_passage_found_for_two_points_is_gated_per_point():
    class TwoSearches(FakeFinder):
        """Each search returns its own Source objects, as the index does."""

        def find(self, point, access, filters=None, k=5, *, context=None):
            rel = 0.93 if "為替介入" in point.text else 0.70
            return [PastAnswer(source(0, "fx", FX_TEXT, rel))]

        def find_documents(self, point, access, k=3, filters=None):
            return []

    d = Drafter(TwoSearches({}, {}), HashEmbedder(64), SparseEncoder(), None, min_relevance=0.86, judge=offline_judge())
    draft = d.draft("一 為替介入の実施状況を示されたい。\n二 為替相場の見通しを示されたい。", PUBLIC)
    (first,), (second,) = (pd.past_answers for pd in draft.points)
    assert first.answer is second.answer and first.answer.n == 1  # one source for the draft
    assert (first.relevant, first.relevance) == (True, 0.93) and (second.relevant, second.relevance) == (False, 0.70)
    assert not draft.points[0].needs_review and draft.points[1].needs_review
    assert draft.points[1].evidence() == []
