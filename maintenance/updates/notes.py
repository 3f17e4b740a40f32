"""Release notes as HTML: a small, safe subset of Markdown, for the admin and the till's update prompt."""

from __future__ import annotations

import html
import re

from django.utils.safestring import SafeString, mark_safe

_MD_INLINE = [
    (re.compile(r"`([^`]+)`"), r"<code>\1</code>"),
    (re.compile(r"\*\*([^*]+)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![*\w])\*([^*\s][^*]*)\*(?!\w)"), r"<em>\1</em>"),
]


def _inline(text: str) -> str:
    out = html.escape(text, quote=True)
    for pattern, repl in _MD_INLINE:
        out = pattern.sub(repl, out)
    return out


def render_notes(text: str) -> SafeString:
    """Render release notes, a small safe subset of Markdown: headings, lists, paragraphs, `code`, **bold**, *em*.

    Everything is escaped first; only the tags written here are produced (no
    links, no raw HTML), so notes can never inject markup into the page.
    """
    out: list[str] = []
    lst: str | None = None
    para: list[str] = []

    def flush_para() -> None:
        if para:
            out.append("<p>" + " ".join(_inline(p) for p in para) + "</p>")
            para.clear()

    def close_list() -> None:
        nonlocal lst
        if lst:
            out.append(f"</{lst}>")
            lst = None

    for raw in (text or "").splitlines():
        line = raw.rstrip()
        heading = re.match(r"^(#{1,6})\s+(.*)$", line)
        bullet = re.match(r"^\s*[-*+]\s+(.*)$", line)
        numbered = re.match(r"^\s*\d+[.)]\s+(.*)$", line)
        if not line.strip():
            flush_para()
            close_list()
        elif heading:
            flush_para()
            close_list()
            level = min(len(heading.group(1)) + 2, 6)  # page headings above stay the biggest
            out.append(f"<h{level}>{_inline(heading.group(2).strip().rstrip('#').strip())}</h{level}>")
        elif bullet or numbered:
            flush_para()
            kind = "ul" if bullet else "ol"
            if lst != kind:
                close_list()
                out.append(f"<{kind}>")
                lst = kind
            item = bullet or numbered
            assert item is not None
            out.append(f"<li>{_inline(item.group(1))}</li>")
        else:
            close_list()
            para.append(line.strip())
    flush_para()
    close_list()
    return mark_safe("\n".join(out))  # noqa: S308 - every piece of text above went through html.escape
