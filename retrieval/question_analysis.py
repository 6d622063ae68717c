"""Question analysis for Diet answer drafting: split a question into 論点, find who asks where.

A question is either a 質問主意書 (numbered 一、二、三 items after a title and 提出者 header), a
committee speech (NDL minutes, possibly with its 「○山田太郎君」 label) or plain text. Points are
cut by structure first (numbering, then cue phrases such as 第一に/次に/最後に), then by the
sentences that ask (〜か。, 〜伺いたい, 〜されたい ...); fragments that ask nothing join a neighbour.
Each point carries the policy terms that matter for search (法人税率, not 取組).

>>> qa = analyze_question("税制に関する質問主意書\\n一 法人税率の引下げの効果を示されたい。\\n二 防衛費の財源は何か。")
>>> [p.label for p in qa.points], qa.kind
(['一', '二'], 'shitsumon_shuisho')
>>> "法人税率" in qa.points[0].terms
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from retrieval.draft_style import load_draft_style
from retrieval.text.normalize import normalize
from retrieval.text.sparse import SparseEncoder, morphemes

__all__ = ["Point", "QuestionAnalysis", "analyze_question", "GENERIC_TERMS"]

MAX_TERMS = 10

# Words of Diet speech that say nothing about the policy asked (an IDF-like stop list: they occur
# in nearly every question). Verbs are lemmas as SparseEncoder gives them.
GENERIC_TERMS: frozenset[str] = frozenset(
    """
    取組 取組み 取り組み 取り組む 対応 状況 政府 見解 考え 考える 大臣 総理 総理大臣 長官 局長 副大臣
    政務官 参考人 委員 委員長 委員会 国会 質問 質疑 答弁 答え 答える 問題 必要 検討 今後 現在 具体
    具体的 認識 方針 理由 説明 指摘 今日 本日 先ほど 先程 様々 関係 重要 確認 部分 意味 形 話 我が国
    国 国民 方向 姿勢 見通し 内容 観点 趣旨 時間 機会 御礼 お願い 願う 聞く 尋ねる 求める 示す 伺い
    明らか 明らかにする 実施 推進 強化 所見 決意 評価 措置 対策 施策 在り方 あり方 点目 一点 皆様 皆さん
    しっかり 是非 ぜひ 大変 非常 本当 全く 少し 多く 何故 なぜ 如何 いかが 然う 斯う そう こう どう
    いう 言う 思う 知る 分かる 行う 進める 受ける 出す 入る 持つ 見る 考え方 取る 先 今 年 月 日 中
    """.split()
)
# Compounds ending in a title or office (木原大臣, 政府参考人) name a person, not a policy.
_TITLE_SUFFIXES = ("大臣", "総理", "長官", "局長", "参考人", "委員長", "委員", "議員", "総裁", "政務官", "次官", "審議官")

# -- sentences and question forms --------------------------------------------------------------

_SENT_RE = re.compile(r"[^。？?！!\n]+[。？?！!」]*")
# A trailing vocative (「…ですか、大臣。」) is dropped before looking at how the sentence ends.
_VOCATIVE_RE = re.compile(r"[、,]\s*[^、,。]{0,12}?(大臣|総理|長官|局長|参考人|総裁|委員長|次長|部長|審議官)[。？?]?$")
_ASK_END_RE = re.compile(r"(か|かね|かな|かい)[。？?]?$|[？?]$")
_ASK_ANY_RE = re.compile(
    r"伺(う|い(ます|たい|たく)|わせて)|お尋ね(し|いた|を)|お聞き(し|いた|を)|聞きたい|お聞かせ|"
    r"見解を(求め|伺|問|お)|説明(され|を求め|いただき|願)|明らかにされたい|示されたい|お示し(ください|いただ|願)|"
    r"答弁を?(求め|願|お願い|ください)|お答え(ください|いただ|願)|教えて(ください|いただ)|問う|"
    r"されたい[。]?$|ご?御?見解を|御?所見を|いかがで|如何"
)
# Announcements of a plan to ask (「…について伺ってまいりたい」) are no question yet.
_AGENDA_RE = re.compile(r"(いき|まいり|参り)たい|させていただきます[。]?$|質問に入")
# 「次に、防衛費について伺います。」: a topic is announced; the question may follow.
_TOPIC_RE = re.compile(r"について(は|も)?、?(お?伺い|お尋ね|質問|お聞き)(します|いたします|をします|をいたします|したいと思います)")
_ANNOUNCE_RE = re.compile(r"について(は|も)?、?(お?伺い|お尋ね|質問|お聞き)")
# A sentence that only names the subject: 「行政手続法について伺います。」 (no 、: nothing else is asked).
_TOPIC_ONLY_RE = re.compile(r"^[^、。？?]{1,30}について(?:お?伺い|お尋ね|質問|お聞き)[^、。？?]{0,12}[。？?]?$")

_KNUM = "一二三四五六七八九十"
_MARKERS: list[tuple[str, re.Pattern[str]]] = [
    ("kanji", re.compile(rf"^([{_KNUM}]{{1,3}})[ 、.]\s*")),
    ("paren", re.compile(rf"^\(([{_KNUM}]{{1,3}}|\d{{1,2}})\)\s*")),
    ("arabic", re.compile(r"^(\d{1,2})(?:[.、)]\s*| )")),
    ("circled", re.compile("^([\u2460-\u2473])\\s*")),
]
_CUE_RE = re.compile(
    rf"^(まず最初に|まず|最初に|第[{_KNUM}\d]+に|[{_KNUM}\d]+点目|第[{_KNUM}\d]+点目|次に|続いて|続けて|最後に|それから|また)[、,]?\s*"
)
# Stage directions of the minutes (「(木原国務大臣「はい」と呼ぶ)」) are no part of the question.
_STAGE_RE = re.compile(r"[(〔][^()〔〕]*(と呼ぶ|者あり|発言する)[^()〔〕]*[)〕]")
# Nouns that open a compound without naming its topic (今後共改善, 先程冒頭, 大臣御自身).
_WEAK_HEADS = ("今後", "先程", "先ほど", "今回", "本当", "当然", "全然", "大臣", "総理", "政府", "共", "侭", "形", "御")
_BOILERPLATE_RE = re.compile(
    rf"(質問主意書$|^提出者|^右の質問主意書を提出する|^右質問する|^質問第[\d{_KNUM}〇]+号|^(令和|平成)[^\s]*年[^\s]*月[^\s]*日(提出)?$|議長.{0,12}殿$)"
)


@dataclass
class Point:
    """One 論点: its sentences (a slice of the normalized question), label, search terms."""

    text: str
    span: tuple[int, int]
    label: str = ""
    terms: list[str] = field(default_factory=list)
    question_sentence: str = ""
    term_weights: dict[str, float] = field(default_factory=dict)
    # The speech's announced theme (「デジタル庁の取組について伺います。」) on the first point it opens.
    theme: str = ""
    # The ministry the point (else the whole question) names as the one to answer (「金融庁」).
    ministry: str | None = None


@dataclass
class QuestionAnalysis:
    """A question split into points, with who asks and where (None when not stated)."""

    points: list[Point]
    member: str | None = None
    party: str | None = None
    committee: str | None = None
    house: str | None = None
    kind: str = "plain"  # "shitsumon_shuisho" | "committee" | "plain"
    text: str = ""  # the normalized text the spans point into


@dataclass
class _Sent:
    start: int
    end: int
    text: str
    ask: int = 0  # 2: asks, 1: announces a topic to ask about, 0: context
    marker: tuple[str, int, str] | None = None  # (kind, value, label)
    cue: str = ""
    boiler: bool = False


def _kanji_value(s: str) -> int:
    if s.isdigit():
        return int(s)
    digits = {c: i + 1 for i, c in enumerate(_KNUM[:9])}
    if "十" in s:
        tens, _, ones = s.partition("十")
        return digits.get(tens, 1) * 10 + digits.get(ones, 0)
    return digits.get(s, 0)


def _ask_level(sentence: str) -> int:
    """2 if the sentence asks something, 1 if it announces a topic to be asked about, else 0."""
    body = _VOCATIVE_RE.sub("", sentence).rstrip("。 ")
    if _TOPIC_RE.search(body) and not re.search(r"のか|ですか|かどうか", body):
        return 1
    if len(body) < 30 and re.search(r"(に|へ)(お?伺い|お尋ね|お聞き)(します|いたします)$", body):
        return 1  # 「会計検査院に伺います。」 names who should answer; the question follows
    if _AGENDA_RE.search(body):
        return 0
    if _ASK_END_RE.search(body) or _ASK_ANY_RE.search(body):
        return 2
    return 0


def _sentences(norm: str) -> list[_Sent]:
    out = []
    for m in _SENT_RE.finditer(norm):
        raw = m.group()
        start = m.start() + len(raw) - len(raw.lstrip())
        end = m.end() - (len(raw) - len(raw.rstrip()))
        if end <= start:
            continue
        text = norm[start:end]
        s = _Sent(start, end, text, boiler=bool(_BOILERPLATE_RE.search(text)))
        for kind, rx in _MARKERS:
            mm = rx.match(text)
            if mm:
                ch = mm.group(1)
                value = ord(ch) - 0x245F if kind == "circled" else _kanji_value(ch)
                label = {"paren": f"({ch})", "arabic": ch, "circled": ch}.get(kind, ch)
                s.marker = (kind, value, label)
                break
        cm = _CUE_RE.match(text)
        if cm:
            s.cue = cm.group(1)
        s.ask = 0 if s.boiler else _ask_level(text)
        out.append(s)
    return out


def _numbered_items(sents: list[_Sent]) -> tuple[list[int], str] | None:
    """Indexes of the top-level numbered items (values 1, 2, 3 ... in order) and their kind."""
    best: tuple[int, list[int], str] | None = None
    for kind, _ in _MARKERS:
        idx, expect = [], 1
        for i, s in enumerate(sents):
            if s.marker and s.marker[0] == kind and s.marker[1] == expect:
                idx.append(i)
                expect += 1
        if len(idx) >= 2 and (best is None or idx[0] < best[0]):
            best = (idx[0], idx, kind)
    return (best[1], best[2]) if best else None


# -- terms ---------------------------------------------------------------------------------------

_ENCODER = SparseEncoder()
_STYLE = load_draft_style()  # ministries named in a question (prompts/draft_style.yaml)
_SINGLES = SparseEncoder(compounds=False, compound_pairs=False)


def _person_names(text: str) -> set[str]:
    return {m[0] for m in morphemes(text) if m[3] == "固有名詞" and m[4] == "人名"}


def policy_terms(text: str, limit: int = MAX_TERMS) -> dict[str, float]:
    """The terms of ``text`` that matter for search, best first, with weights: compounds and
    long nouns score high, generic Diet words (取組, 政府, 見解) and people's names not at all."""
    text = _STAGE_RE.sub(" ", text)
    terms = _ENCODER.terms(text)
    singles = set(_SINGLES.terms(text))
    multi = {t for t in terms if t not in singles}
    names = _person_names(text)
    scores: dict[str, float] = {}
    for term in terms:
        if (term in GENERIC_TERMS or len(term) < 2 or term.isdigit() or term.endswith(_TITLE_SUFFIXES)
                or any(n in term for n in names) or re.fullmatch(r"[ぁ-ん]+|[ぁ-ん一-龥]{1,2}[ぁ-ん]", term)
                or re.fullmatch(r"\d+\D{1,2}", term)):  # 無い, 出る, 1回, 10箇月: say nothing
            continue
        if term in multi and (term.startswith(_WEAK_HEADS) or term.endswith(("形", "元", "御"))):
            continue
        if term in scores:
            scores[term] += 0.5  # repeated in the point: it is what the point is about
            continue
        weight = min(len(term), 6) / 3
        if term not in singles:
            # A whole compound (法人税率) is rarer and more specific than its parts; the pairs
            # inside it (税率) rank between.
            weight *= 1.3 if any(term != o and term in o for o in multi) else 2.0
            if any(term.endswith(g) for g in GENERIC_TERMS if len(g) >= 2):
                weight *= 0.5  # 普及状況: a generic head dilutes it
        if re.search(r"\d", term):
            weight *= 0.5  # dates and amounts (平成27年度以降) place a question, they are not its topic
        if re.search(r"[ぁ-ん]$", term):
            weight *= 0.4  # verbs and adjectives rarely name the policy
        scores[term] = weight
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])[:limit]
    return {t: round(w, 3) for t, w in ranked}


# -- speaker, party, committee, house ------------------------------------------------------------

_LABEL_RE = re.compile(
    r"^[○〇◯]\s*(?:(?P<chair>委員長|会長|議長)[(（](?P<chairname>[^)）]+?)(?:君|さん)[)）]"
    r"|(?P<surname>[^\s(（]+?)(?:[(（][^)）]{1,3}[)）])?(?P<role>委員長|委員|議員|会長)|(?P<full>[^\s(（]+?)(?:君|さん)"
    r"|(?P<other>[^\s]+?))\s"
)
_PARTIES = (
    "自由民主党|自民党|立憲民主党|立憲民主・社民|立憲民主|日本維新の会|維新の会|公明党|国民民主党|日本共産党|共産党|"
    "れいわ新選組|社会民主党|社民党|参政党|日本保守党|有志の会|沖縄の風|教育無償化を実現する会|NHK党|みんなでつくる党"
)
_PARTY_ALIASES = {"自民党": "自由民主党", "共産党": "日本共産党", "社民党": "社会民主党", "維新の会": "日本維新の会",
                  "立憲民主": "立憲民主党"}
_INTRO_RE = re.compile(rf"(?P<party>(?:{_PARTIES})(?:・[^の、。\s]{{1,12}})*)(?P<rest>[^。]{{0,45}}?)(?:でございます|です|と申します)")
_NAME_RE = re.compile(r"^[一-龥々ヶぁ-んァ-ヶー]{2,8}$")
_STANDING = (
    "内閣|総務|法務|外務|外交防衛|財務金融|財政金融|文部科学|文教科学|厚生労働|農林水産|経済産業|国土交通|環境|"
    "安全保障|国家基本政策|予算|決算行政監視|決算|行政監視|議院運営|懲罰"
)
_COMMITTEE_RE = re.compile(
    rf"(?P<house>衆議院|参議院)?の?(?P<name>(?<![一-龥ァ-ヶ])(?:{_STANDING})委員会(?:合同審査会)?"
    r"|(?:[一-龥ァ-ヶー・]|及び|並びに|に関する|等)+?(?:特別委員会|に関する調査会)|憲法審査会|政治倫理審査会)"
)
# Committees of one house only (the others exist in both).
_HOUSE_OF = {"財務金融": "衆議院", "外務": "衆議院", "文部科学": "衆議院", "安全保障": "衆議院", "決算行政監視": "衆議院",
             "財政金融": "参議院", "外交防衛": "参議院", "文教科学": "参議院", "決算委員会": "参議院", "行政監視": "参議院",
             "調査会": "参議院"}
# A committee is taken only where the speaker names the one he is in (この予算委員会, 本委員会で).
_SELF_REF_RE = re.compile(
    r"(この|(本日|今日|きょう)(の|[はがも]、?(私、)?(初めての)?)|ただいまから)(衆議院|参議院)?の?$"
)


def _member_from_intro(head: str) -> tuple[str | None, str | None]:
    """(member, party) from a self-introduction near the start (「立憲民主党の山田太郎です」)."""
    # Only the opening sentences, and the party must open a sentence or clause: 「自民党の地方議員
    # …です」 later in a speech is about that party, not the speaker.
    head = "".join(_SENT_RE.findall(head)[:3])
    m = next((m for m in _INTRO_RE.finditer(head) if m.start() == 0 or head[m.start() - 1] in "。、 "), None)
    if not m:
        return None, None
    party = m.group("party")
    party = _PARTY_ALIASES.get(party, party)
    rest = m.group("rest")
    tail = re.split(r"[の、,・\s]", rest)[-1]
    name = tail if _NAME_RE.match(tail) and not re.search(r"(ます|ござい|させて|質問|質疑|委員|議員|代表)", tail) else None
    if name is None:
        morphs = morphemes(rest)
        run = []
        for surface, _lemma, _p1, p2, p3 in reversed(morphs):
            if p2 == "固有名詞" and p3 == "人名":
                run.append(surface)
            else:
                break
        joined = "".join(reversed(run))
        name = joined if len(joined) >= 2 else None
    return (name, party) if name else (None, None)


def _committee(norm: str) -> tuple[str | None, str | None]:
    """(committee, house) named as the one this speech is in, else (None, None)."""
    for m in _COMMITTEE_RE.finditer(norm):
        before = norm[max(0, m.start() - 8):m.start()]
        if not _SELF_REF_RE.search(before):
            continue
        name = m.group("name")
        house = m.group("house")
        if house is None:
            house = next((h for key, h in _HOUSE_OF.items() if name.startswith(key) or name.endswith(key)), None)
        return name, house
    return None, None


# -- analysis ------------------------------------------------------------------------------------


def _key_terms(text: str, limit: int) -> set[str]:
    return {t for t, w in policy_terms(text, limit).items() if w >= 1.3}


def _distinct(sent: _Sent, current: list[_Sent]) -> bool:
    """A question right after another asks something new if most of its key terms are new."""
    new = _key_terms(sent.text, MAX_TERMS)
    if len(new) < 2:
        return False
    seen = set(policy_terms(" ".join(s.text for s in current), limit=50))
    return len(new & seen) / len(new) < 0.34


def _same_topic(group: list[_Sent], previous: list[_Sent]) -> bool:
    """True if what ``group`` asks was already asked in ``previous`` (「…いつ出すんですか」 again)."""
    asks = " ".join(s.text for s in group if s.ask) or " ".join(s.text for s in group)
    new = _key_terms(asks, 5)
    if not new:
        return True
    seen = set(policy_terms(" ".join(s.text for s in previous), limit=50))
    return len(new & seen) / len(new) >= 0.5


def _preface(group: list[_Sent], rest: list[tuple[str, list[_Sent]]]) -> bool:
    """「本日は、〜について質問をいたします。」 or 「デジタル庁の取組について伺います。」 before 「まず、…」
    / 「第一に、…」: the whole speech's theme, which is context for the first point rather than a
    論点 of its own (it only announces what the numbered questions after it ask)."""
    if rest and len(group) == 1 and not group[0].cue and _TOPIC_ONLY_RE.match(group[0].text.strip()):
        return True  # 「行政手続法について伺います。申請に対する処分について、…」: the subject, then the question
    if not rest or rest[0][1][0].cue in ("", "また") or group[0].cue:
        return False
    return max(x.ask for x in group) == 1 or all(_ANNOUNCE_RE.search(x.text) for x in group if x.ask == 2)


def _segments(sents: list[_Sent], themes: list[_Sent] | None = None) -> list[tuple[str, list[_Sent]]]:
    """Sentences grouped into (label, sentences) points; no-question fragments merged. A speech's
    announced theme joins the first point and is appended to ``themes``."""
    body = [s for s in sents if not s.boiler]
    numbered = _numbered_items(body)
    segs: list[tuple[str, list[_Sent]]] = []
    if numbered:
        idx, _kind = numbered
        starts = set(idx)
        for i, s in enumerate(body):
            if i in starts or not segs:
                segs.append((s.marker[2] if i in starts and s.marker else "", [s]))
            else:
                segs[-1][1].append(s)
        if len(segs) > len(idx):  # the preamble (前文) joins item 一
            label, first = segs[1]
            segs[:2] = [(label, segs[0][1] + first)]
        return segs
    for s in body:
        cur = segs[-1][1] if segs else []
        has_q = any(x.ask for x in cur)
        strong = any(x.ask == 2 for x in cur)
        new = (not segs or s.cue and (has_q or s.cue != "また") or s.ask == 1 and has_q
               or strong and s.ask == 0 and cur[-1].ask == 2
               or strong and s.ask == 2 and cur[-1].ask == 0
               or strong and s.ask == 2 and _distinct(s, cur))
        if new:
            segs.append((s.cue if s.cue and s.cue != "また" else "", [s]))
        else:
            cur.append(s)
    merged: list[tuple[str, list[_Sent]]] = []
    pending: list[_Sent] = []
    pending_label = ""
    for i, (label, group) in enumerate(segs):
        if not any(x.ask for x in group) or i == 0 and _preface(group, segs[1:]):
            if i == 0 and themes is not None and any(x.ask for x in group):
                themes.extend(group)
            if not pending:
                pending_label = label
            pending.extend(group)  # context: joins the next point that asks
            continue
        merged.append((pending_label or label if pending else label, pending + group))
        pending, pending_label = [], ""
    if pending:
        if merged:
            merged[-1][1].extend(pending)  # trailing remarks join the last point
        else:
            merged.append((pending_label, pending))
    out: list[tuple[str, list[_Sent]]] = []
    for label, group in merged:
        # 「また、〜について伺います。」: the speaker opens a new 論点 himself, however close its words.
        announced = bool(group[0].cue) and bool(_ANNOUNCE_RE.search(group[0].text))
        if out and not label and not announced and _same_topic(group, out[-1][1]):
            out[-1][1].extend(group)
        else:
            out.append((label, group))
    return out


def analyze_question(text: str) -> QuestionAnalysis:
    """Split a Diet question (質問主意書, committee speech or plain text) into 論点 and detect
    member, party, committee and house (None when not stated).

    >>> analyze_question("○山田太郎君 立憲民主党の山田太郎です。防衛費の財源は何か。").member
    '山田太郎'
    """
    norm = normalize(text or "")
    member = party = None
    label_house = None
    body_start = 0
    lm = _LABEL_RE.match(norm)
    if lm:
        if lm.group("chairname"):
            member = lm.group("chairname")
        elif lm.group("full"):
            member = lm.group("full")
        elif lm.group("surname"):
            member = lm.group("surname")  # 衆議院 labels give the surname only (○中山委員)
        body_start = lm.end()
    intro_member, party = _member_from_intro(norm[body_start:body_start + 200])
    party_words = set(_ENCODER.terms(party)) if party else set()
    if intro_member and (member is None or intro_member.startswith(member)):
        member = intro_member
    shuisho = bool(re.search(r"質問主意書$|^右質問する|^提出者", norm, re.M))
    if shuisho:
        pm = re.search(r"提出者\s*([^\n]+)", norm)
        if pm:
            name = re.sub(r"\s+", "", pm.group(1))
            member = name if _NAME_RE.match(name) else member
        hm = re.search(r"(衆議院|参議院)議長", norm)
        label_house = hm.group(1) if hm else None
    committee, house = _committee(norm)
    house = house or label_house

    sents = [s for s in _sentences(norm) if s.end > body_start]
    if sents and sents[0].start < body_start:
        sents[0] = _Sent(body_start, sents[0].end, norm[body_start:sents[0].end], sents[0].ask)
    points = []
    themes: list[_Sent] = []
    named = _STYLE.ministry_named(norm[body_start:])
    for label, group in _segments(sents, themes):
        start, end = group[0].start, group[-1].end
        chunk = norm[start:end]
        weights = {t: w for t, w in policy_terms(chunk, MAX_TERMS + len(party_words)).items()
                   if t not in party_words and not (party and t in party)}  # 日本維新: not a topic
        weights = dict(list(weights.items())[:MAX_TERMS])
        asks = [s for s in group if s.ask == 2] or [s for s in group if s.ask] or [group[-1]]
        if themes and not points:  # the theme is context: the point asks what follows it
            asks = [s for s in asks if s not in themes] or asks
        theme = "".join(s.text for s in themes) if themes and not points else ""
        points.append(Point(text=chunk, span=(start, end), label=label, terms=list(weights),
                            question_sentence=asks[0].text, term_weights=weights, theme=theme,
                            ministry=_STYLE.ministry_named(chunk) or named))
    if not points and norm:
        weights = policy_terms(norm)
        points.append(Point(norm, (0, len(norm)), "", list(weights), norm, weights))
    addressed = re.search(r"(大臣|総理|長官|参考人|局長)", norm)
    kind = "shitsumon_shuisho" if shuisho else ("committee" if lm or intro_member or committee or addressed else "plain")
    return QuestionAnalysis(points, member, party, committee, house, kind, norm)
