"""The 公用文チェック shown under a text area (the 答弁作成 editor and the 公用文チェック page):
the text with each finding marked at its span, the explanation and source per finding, a
one-click fix where the fix is mechanical, 「確実な修正をすべて適用」 and 「元に戻す」.

The text lives in ``st.session_state[text_key]`` (the text area's key): fixes run as button
callbacks that rewrite it before the widget is drawn again, and push the previous text on an
undo stack of that key, so every fix can be undone one step at a time.

>>> findings_panel(checker, "text_1", st.session_state["text_1"])  # doctest: +SKIP
"""

from __future__ import annotations

import html

import streamlit as st

from retrieval.style import Finding, StyleChecker, apply_one, fix_certain

__all__ = ["findings_panel", "marked_html", "undo_key"]

_MAX_SHOWN = 30  # findings listed with buttons; the rest are summarized


def undo_key(text_key: str) -> str:
    """Session-state key of the undo stack of the text under ``text_key``."""
    return f"{text_key}__style_undo"


def marked_html(text: str, findings: list[Finding]) -> str:
    """``text`` as HTML with every finding's span in <mark> and its number (overlaps: first wins)."""
    out, pos = [], 0
    for n, f in enumerate(findings, 1):
        if f.start < pos or f.start == f.end:
            continue
        out += [html.escape(text[pos:f.start]), f"<mark title='{html.escape(f.message, quote=True)}'>",
                html.escape(text[f.start:f.end]), f"</mark><sup>{n}</sup>"]
        pos = f.end
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _replace(text_key: str, new_text: str) -> None:
    old = st.session_state.get(text_key, "")
    if new_text != old:
        st.session_state.setdefault(undo_key(text_key), []).append(old)
        st.session_state[text_key] = new_text


def _fix_one(text_key: str, finding: Finding) -> None:
    _replace(text_key, apply_one(st.session_state.get(text_key, ""), finding))


def _fix_certain(text_key: str, checker: StyleChecker) -> None:
    _replace(text_key, fix_certain(st.session_state.get(text_key, ""), checker)[0])


def _undo(text_key: str) -> None:
    stack = st.session_state.get(undo_key(text_key)) or []
    if stack:
        st.session_state[text_key] = stack.pop()


def _label(f: Finding) -> str:
    if not f.suggestion:
        return f"「{f.text}」を削除"
    return f"「{f.text}」→「{f.suggestion}」"


def findings_panel(checker: StyleChecker, text_key: str, text: str) -> list[Finding]:
    """Check ``text`` (the current value under ``text_key``) and show the findings with their
    fixes; returns the findings."""
    findings = checker.check(text)
    undo = st.session_state.get(undo_key(text_key)) or []
    certain = [f for f in findings if f.certain and f.fixable]
    head, b1, b2 = st.columns([3, 2, 1])
    head.markdown(f"**公用文チェック**　指摘 {len(findings)} 件" + (f"（自動修正可 {len(certain)} 件）" if certain else ""))
    b1.button("確実な修正をすべて適用", key=f"{text_key}__style_all", disabled=not certain, on_click=_fix_certain,
              args=(text_key, checker), help="数値・名称・立場を変えない表記の置き換えだけを行います。")
    b2.button("元に戻す", key=f"{text_key}__style_undo_btn", disabled=not undo, on_click=_undo, args=(text_key,))
    if not findings:
        st.caption("公用文の表記の規則に反する箇所は見つかりませんでした。")
        return findings
    st.markdown(f"<div style='white-space: pre-wrap; line-height: 1.9'>{marked_html(text, findings)}</div>", unsafe_allow_html=True)
    for n, f in enumerate(findings[:_MAX_SHOWN], 1):
        row = st.columns([5, 2])
        shown = f.text if len(f.text) <= 24 else f.text[:22] + "…"
        row[0].markdown(f"{n}. **{html.escape(f.group)}**「{html.escape(shown)}」— {html.escape(f.message)}"
                        f"<br><small>出典: {html.escape(f.source)}</small>", unsafe_allow_html=True)
        if f.fixable:
            row[1].button(_label(f)[:40], key=f"{text_key}__style_fix_{f.rule_id}_{f.start}_{f.end}",
                          on_click=_fix_one, args=(text_key, f), type="primary" if f.certain else "secondary",
                          help="確実な修正" if f.certain else "修正案です。文脈を確認してから適用してください。")
    if len(findings) > _MAX_SHOWN:
        st.caption(f"ほかに {len(findings) - _MAX_SHOWN} 件の指摘があります（「確実な修正をすべて適用」で一括して直せるものもあります）。")
    return findings
