"""Text of messages shown on a page: the addresses in it become links."""

from __future__ import annotations

import re

from django import template
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

register = template.Library()

# An address runs to the first space, quote, angle bracket or CJK punctuation (a message
# reads "查看进度：https://…" with no space before the address).
ADDRESS = re.compile(r"https?://[^\s<>\"'\u3000-\u303f\uff00-\uffef]+")


@register.filter
def links(text) -> str:
    """``text`` escaped, with each http(s) address in it a link."""
    text = str(text or "")
    parts, position = [], 0
    for match in ADDRESS.finditer(text):
        address = match.group(0).rstrip(".,;:!?)")
        parts.append(escape(text[position : match.start()]))
        parts.append(format_html('<a href="{}" rel="nofollow noopener">{}</a>', address, address))
        position = match.start() + len(address)
    parts.append(escape(text[position:]))
    return mark_safe("".join(parts))  # noqa: S308 - every part is escaped above
