"""Text from documents (and from questions) on its way into Markdown or HTML: only ever as text.

A record may hold ``[ホタル窓口](http://…/phish)`` or ``![b](…/beacon.png)``; a title may hold
``<img src=x onerror=…>``; a source URL may be ``javascript:…``. The UI pages and the Markdown
export pass every such string through here, so none of it becomes a link, an image, HTML or
formatting, and only http(s) URLs are ever linked.

    >>> md_inline("[窓口](http://x/phish) <b>")
    '\\[窓口\\](http:\\/\\/x/phish) &lt;b&gt;'
"""

from __future__ import annotations

import html
import re

__all__ = ["md_inline", "html_block", "safe_url"]

# Markdown's inline syntax characters (links and images need "[", emphasis "*" "~", code "`",
# tables "|", Streamlit's math "$"); each escaped with a backslash (CommonMark: always literal).
# "_" is left alone: file names are full of it, and at worst it makes italics, never a link.
_MD_SPECIAL = re.compile(r"([\\`*\[\]|~$])")
# What would start a heading, a list or a quote where the text begins a line.
_LINE_START = re.compile(r"^(\s*)([#+\-=]|\d+(?=[.)]))")
# GFM turns bare "http://…" and "www.…" into links: break the patterns it looks for.
_AUTOLINK = re.compile(r"(?i)(://|www\.)")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")


def md_inline(text: object) -> str:
    """``text`` as literal Markdown on one line: HTML escaped, link/image/emphasis syntax escaped,
    bare URLs not auto-linked, line breaks turned into spaces (no headings or quotes begin)."""
    escaped = html.escape(_LINE_BREAKS.sub(" ", str(text)), quote=False)
    escaped = _MD_SPECIAL.sub(r"\\\1", escaped)
    escaped = _LINE_START.sub(lambda m: m.group(1) + (m.group(2) + "\\" if m.group(2)[0].isdigit() else "\\" + m.group(2)),
                              escaped)
    return _AUTOLINK.sub(lambda m: ":\\/\\/" if m.group(1) == "://" else m.group(1)[:3] + "\\.", escaped)


def html_block(text: object) -> str:
    """``text`` for the inside of an HTML element shown with ``unsafe_allow_html``: escaped, its
    line breaks as ``<br>`` so the block stays one line (a blank line would end the HTML block
    and let the rest be read as Markdown)."""
    return _LINE_BREAKS.sub(lambda m: "<br>" * max(1, m.group().count("\n")), html.escape(str(text)))


def safe_url(url: object) -> str | None:
    """``url`` when it is a plain http(s) URL (no spaces, quotes, angle brackets or control
    characters), else None: ``javascript:``, ``data:`` and the like are never linked."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    if not re.fullmatch(r"(?i)https?://[^\s<>\"'`\\\x00-\x1f\x7f]+", url):
        return None
    return url
