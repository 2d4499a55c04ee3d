"""IRC formatting ↔ Matrix messages (pure).

IRC's control codes — bold ^B, italic ^], underline ^_, strikethrough ^^, monospace ^Q, colour
^C fg[,bg], reset ^O — become Matrix HTML (`org.matrix.custom.html`) and back. A Matrix message
becomes the lines IRC can show: an emote is a CTCP ACTION, a reply quotes the line it answers,
an edit is sent again marked as a correction, media is a link, and HTML becomes control codes.
"""
from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Any

BOLD, ITALIC, UNDERLINE, STRIKE, MONO, COLOR, RESET = "\x02", "\x1d", "\x1f", "\x1e", "\x11", "\x03", "\x0f"
# mIRC's 16 colours (the numbers IRC clients send) as HTML colours.
COLOURS = ["#ffffff", "#000000", "#00007f", "#009300", "#ff0000", "#7f0000", "#9c009c", "#fc7f00",
           "#ffff00", "#00fc00", "#009393", "#00ffff", "#0000fc", "#ff00ff", "#7f7f7f", "#d2d2d2"]
_COLOR_CODE = re.compile(r"\x03(\d{1,2})?(?:,(\d{1,2}))?")
_CODES = re.compile(r"[\x02\x1d\x1f\x1e\x11\x0f\x16]|\x03(\d{1,2})?(?:,(\d{1,2}))?")
_TAGS = {BOLD: "b", ITALIC: "i", UNDERLINE: "u", STRIKE: "del", MONO: "code"}


def strip_codes(text: str) -> str:
    return _CODES.sub("", text)


def irc_to_matrix(text: str) -> dict[str, Any]:
    """A line from IRC as `m.room.message` content (m.text, or HTML when it has formatting)."""
    plain = strip_codes(text)
    content: dict[str, Any] = {"msgtype": "m.text", "body": plain}
    if plain != text:
        content["format"] = "org.matrix.custom.html"
        content["formatted_body"] = _to_html(text)
    return content


def _to_html(text: str) -> str:
    out: list[str] = []
    open_tags: list[str] = []
    colour_open = False
    i = 0

    def close_all() -> None:
        nonlocal colour_open
        for tag in reversed(open_tags):
            out.append(f"</{tag}>")
        open_tags.clear()
        if colour_open:
            out.append("</font>")
            colour_open = False

    while i < len(text):
        ch = text[i]
        if ch in _TAGS:
            tag = _TAGS[ch]
            if tag in open_tags:  # toggled off: close down to it and reopen the rest
                idx = open_tags.index(tag)
                for t in reversed(open_tags[idx:]):
                    out.append(f"</{t}>")
                rest = open_tags[idx + 1:]
                del open_tags[idx:]
                for t in rest:
                    out.append(f"<{t}>")
                    open_tags.append(t)
            else:
                out.append(f"<{tag}>")
                open_tags.append(tag)
            i += 1
        elif ch == COLOR:
            m = _COLOR_CODE.match(text, i)
            assert m is not None
            if colour_open:
                out.append("</font>")
                colour_open = False
            fg, bg = m.group(1), m.group(2)
            if fg is not None and int(fg) < len(COLOURS):
                attrs = f' data-mx-color="{COLOURS[int(fg)]}"'
                if bg is not None and int(bg) < len(COLOURS):
                    attrs += f' data-mx-bg-color="{COLOURS[int(bg)]}"'
                out.append(f"<font{attrs}>")
                colour_open = True
            i = m.end()
        elif ch in (RESET, "\x16"):
            close_all()
            i += 1
        else:
            out.append(html.escape(ch, quote=False))
            i += 1
    close_all()
    return "".join(out)


class _HtmlToIrc(HTMLParser):
    CODES = {"b": BOLD, "strong": BOLD, "i": ITALIC, "em": ITALIC, "u": UNDERLINE, "del": STRIKE, "s": STRIKE,
             "strike": STRIKE, "code": MONO}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0        # inside <mx-reply>: the quoted original, not part of the new text
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "mx-reply":
            self.skip += 1
        elif self.skip:
            return
        elif tag in self.CODES:
            self.out.append(self.CODES[tag])
        elif tag == "br":
            self.out.append("\n")
        elif tag == "li":
            self.out.append("\n• ")
        elif tag == "a":
            self.links.append(dict(attrs).get("href") or "")
        elif tag == "font" or tag == "span":
            colour = dict(attrs).get("data-mx-color") or ""
            if colour.lower() in COLOURS:
                self.out.append(f"{COLOR}{COLOURS.index(colour.lower()):02d}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "mx-reply":
            self.skip = max(0, self.skip - 1)
        elif self.skip:
            return
        elif tag in self.CODES:
            self.out.append(self.CODES[tag])
        elif tag in ("p", "div", "blockquote", "ul", "ol", "pre") or re.fullmatch(r"h[1-6]", tag):
            self.out.append("\n")
        elif tag == "a":
            href = self.links.pop() if self.links else ""
            if href and not href.startswith("https://matrix.to/#/@"):  # a link's address, unless it is the text
                text = "".join(self.out[-1:])
                if href not in text:
                    self.out.append(f" <{href}>")
        elif tag in ("font", "span"):
            self.out.append(COLOR)

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.out.append(data)


def html_to_irc(formatted: str) -> str:
    parser = _HtmlToIrc()
    parser.feed(formatted)
    parser.close()
    text = "".join(parser.out)
    return re.sub(r"\n{2,}", "\n", text).strip("\n")


def _reply_fallback_stripped(body: str) -> str:
    """A reply's body without its `> <@who> quoted` fallback lines (spec: rich replies)."""
    lines = body.split("\n")
    while lines and lines[0].startswith(">"):
        lines.pop(0)
    if lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(lines)


def matrix_to_irc(content: dict[str, Any], *, media_url: str | None = None, replied_to: str | None = None,
                  replied_sender: str | None = None) -> tuple[list[str], bool]:
    """(lines of text, is_action) for IRC from `m.room.message` content. `media_url`: where an
    attachment can be fetched over HTTP; `replied_to`/`replied_sender`: the text and nick of the
    message this one answers (quoted, shortened)."""
    msgtype = content.get("msgtype")
    new = content.get("m.new_content")
    is_edit = isinstance(new, dict) and (content.get("m.relates_to") or {}).get("rel_type") == "m.replace"
    source = new if is_edit and isinstance(new, dict) else content
    body = source.get("body") if isinstance(source.get("body"), str) else ""
    if source.get("format") == "org.matrix.custom.html" and isinstance(source.get("formatted_body"), str):
        text = html_to_irc(source["formatted_body"])
    else:
        text = _reply_fallback_stripped(body) if not is_edit else body
    if msgtype in ("m.image", "m.file", "m.audio", "m.video"):
        name = body or "a file"
        text = f"{name}: {media_url}" if media_url else f"sent {name} (it can only be seen in Matrix)"
    if is_edit:
        text = "* " + text  # IRC's way of saying "correction"
    lines = [line for line in text.split("\n") if line.strip()]
    if replied_to is not None and lines:
        quote = strip_codes(replied_to).replace("\n", " ")
        quote = quote if len(quote) <= 60 else quote[:57] + "…"
        lines[0] = f"{replied_sender + ': ' if replied_sender else ''}“{quote}” ← {lines[0]}"
    return lines, msgtype == "m.emote"
