"""Translation between the channel-neutral model and the WhatsApp Cloud API JSON: data in, data out.

No I/O here. Two directions:

* :func:`render` turns one Outbound action into the bodies of ``POST /{phone-number-id}/messages``
  (without ``messaging_product`` and ``to``, which the client adds), in the order to send them.
* :func:`parse_webhook` turns a ``whatsapp_business_account`` webhook body into Inbound events
  and :class:`StatusUpdate` delivery receipts. Malformed pieces are logged and skipped.

Formatting. Our texts are a small HTML subset (see ``handlers/messages.py``); WhatsApp marks
text up with characters: <b> → ``*x*``, <i> → ``_x_``, <s> → ``~x~``, <code> and <pre> → the
text between triple backticks; <u> has no equivalent and stays plain; entities are unescaped;
``<a href>`` becomes ``label: url``. WhatsApp only honours a marker pair at word boundaries,
on one line, around text that neither starts nor ends with a space: where those conditions do
not hold (``<b>x</b>y``, a marker character inside the span) the text is left plain rather than
showing stray markers.
Styles spanning lines are marked line by line. Lengths are counted as :func:`bot.text_split.units`
does (UTF-16 code units: an emoji counts two), erring on the short side of WhatsApp's limits.

Choices. The buttons of an OutText (all rows, flattened, in order) become:

* up to 3 *reply buttons* when every label fits a button title (20) as it is — after trimming
  spaces and, only if still too long, trailing punctuation — and no title could be taken for
  another choice;
* otherwise a *list message* (one section, up to 10 rows): each row title is the label shortened
  to 24 at a word boundary with "…", and a shortened row carries the full label as its
  description (up to 72). Titles never become ambiguous: colliding titles keep their
  distinguishing end or middle, and as a last resort every row is numbered ("1. …");
* more than 10 choices (rare): several list messages of up to 10 rows each, the first with the
  text as body, the others with "…", each with a "k/n" footer.

A button's id is its payload; a press comes back as an Inbound BUTTON with that payload. The
interactive body is limited to 1024: a longer text is sent first as plain text messages (split
at 4096 with :func:`bot.text_split.split_html`) and its last ≤1024 part becomes the body.

An OutMedia with buttons (an announcement's photo and its 🔕) is one reply-button message with
the image (video, document) as its header and the caption as its body. WhatsApp requires the
body and allows no media header on a list, so without a caption, for audio, or for choices that
need a list, the bare media goes first and its caption follows with the choices as above.

Location requests. Telegram's "share my location" keyboard has no WhatsApp equivalent that can
sit beside other buttons, so ``request_location`` becomes the text plus ``location_hint`` (a
catalogue text telling how to share a location in WhatsApp). ``skip_label`` becomes a reply button
titled with the label whose id is :data:`TEXT_REPLY_PREFIX` + the label: :func:`parse_webhook`
turns a press on it into the plain TEXT message (the label) that Telegram's keyboard button
sends, so handlers see the same thing on both channels. ``remove_keyboard`` needs nothing: reply
buttons do not stay on screen.

Inbound. Each message becomes one Inbound with event_id = message_id = its wamid and chat_id =
user_id = the sender's number. Button and list presses are BUTTON events with the id as payload
(and, like Telegram's presses, no reply_to_message_id); a video is OTHER but keeps its MediaRef
(kind "video") and caption; messages in WhatsApp groups are ignored (we create none). Receipts
other than sent, delivered, read and failed (such as "played") are ignored.
"""

from __future__ import annotations

import html
import logging
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from bot.text_split import split_html, split_text, units
from handlers.messages import (
    Button,
    Channel,
    Inbound,
    InboundKind,
    Location,
    MediaRef,
    Outbound,
    OutEdit,
    OutLocation,
    OutMedia,
    OutTemplate,
    OutText,
    text_fields,
)

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096  # text message body
BODY_LIMIT = 1024  # interactive message body
CAPTION_LIMIT = 1024  # image, video and document captions
MAX_BUTTONS = 3
BUTTON_TITLE_LIMIT = 20
BUTTON_ID_LIMIT = 256
MAX_ROWS = 10  # rows of one list message, all sections together
ROW_TITLE_LIMIT = 24
ROW_DESCRIPTION_LIMIT = 72
LIST_BUTTON_LIMIT = 20

# The id of a reply button whose press must arrive as the typed text after the prefix (skip_label).
# Our payloads are "<scope>|<action>" (handlers/context.py), so none starts with this.
TEXT_REPLY_PREFIX = "text:"

ELLIPSIS = "…"
_TRAILING = ".,;:!?-–—/·" + " "  # dropped from the end of a label that is too long
_EMPTY_BODY = ELLIPSIS  # WhatsApp refuses an empty interactive body

StatusName = Literal["sent", "delivered", "read", "failed"]
_STATUSES: frozenset[str] = frozenset(get_args(StatusName))


@dataclass(frozen=True)
class StatusUpdate:
    """A delivery receipt for a message we sent (``statuses`` in the messages webhook)."""

    message_id: str  # the wamid the send call returned
    status: StatusName
    recipient: str  # the person's WhatsApp id (phone number)
    timestamp: int  # Unix seconds
    error: str | None = None  # "<code> <title>" of the first error of a failed message


# --- outbound ---------------------------------------------------------------------------------


def render(action: Outbound, *, list_button_label: str, location_hint: str) -> list[dict[str, Any]]:
    """The Cloud API message bodies for one action, in sending order (empty for an empty text).

    list_button_label: the (plain) label of the button that opens a list message ("Pilih").
    location_hint: a catalogue text (our HTML subset) telling how to share a location in WhatsApp,
    appended to texts that ask for one.

    Raises ValueError for media WhatsApp cannot send: a file_id that is neither a WhatsApp media
    id nor an http(s) URL (a Telegram file id, say).
    """
    if isinstance(action, OutText):
        return _render_text(action, list_button_label, location_hint)
    if isinstance(action, OutEdit):
        # WhatsApp cannot edit a message: the new text (with its buttons) is sent anew.
        return _render_text(OutText(text=action.text, buttons=action.buttons), list_button_label, "")
    if isinstance(action, OutMedia):
        return _render_media(action, list_button_label)
    if isinstance(action, OutTemplate):
        return [_render_template(action)]
    if isinstance(action, OutLocation):
        location = action.location
        return [
            {"type": "location", "location": {"latitude": location.latitude, "longitude": location.longitude}}
        ]
    raise ValueError(f"unknown action {action!r}")


def _render_template(action: OutTemplate) -> dict[str, Any]:
    """An approved template: its body's parameters in order, and its quick-reply buttons' payloads."""
    components: list[dict[str, Any]] = []
    if action.parameters:
        parameters = [{"type": "text", "text": value} for value in action.parameters]
        components.append({"type": "body", "parameters": parameters})
    for index, payload in enumerate(action.quick_replies):
        components.append(
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": str(index),
                "parameters": [{"type": "payload", "payload": payload}],
            }
        )
    template: dict[str, Any] = {"name": action.name, "language": {"code": action.language}}
    if components:
        template["components"] = components
    return {"type": "template", "template": template}


@dataclass(frozen=True)
class _Choice:
    label: str  # plain text
    id: str


def _render_text(action: OutText, list_button_label: str, location_hint: str) -> list[dict[str, Any]]:
    text = action.text
    if action.request_location:
        # Like Telegram's reply_markup: a location request replaces any inline buttons.
        if location_hint.strip():
            text = f"{text}\n\n{location_hint}" if text.strip() else location_hint
        choices = [_Choice(action.skip_label, _text_reply_id(action.skip_label))] if action.skip_label else []
    else:
        choices = _choices(action.buttons)
    messages = _with_choices(text, choices, list_button_label) if choices else _texts(text)
    reply_to = _reply_target(action.reply_to)
    if messages and reply_to is not None:
        messages[0]["context"] = {"message_id": reply_to}
    return messages


def _choices(buttons: tuple[tuple[Button, ...], ...]) -> list[_Choice]:
    """The buttons in reading order; a repeated payload keeps its first button (ids must be unique)."""
    choices: list[_Choice] = []
    seen: set[str] = set()
    for row in buttons:
        for button in row:
            if button.payload in seen:
                log.warning("button payload %r repeated: the second one is left out", button.payload)
                continue
            seen.add(button.payload)
            choices.append(_Choice(button.label, button.payload))
    return choices


def _text_reply_id(label: str) -> str:
    return (TEXT_REPLY_PREFIX + label.strip())[:BUTTON_ID_LIMIT]  # ids may not end in a space


def _reply_target(message_id: str | None) -> str | None:
    """A WhatsApp message id to quote; None if absent or another platform's (Telegram's are digits)."""
    if message_id is None or not message_id.strip() or message_id.strip().isdigit():
        return None
    return message_id.strip()


def _text_message(body: str) -> dict[str, Any]:
    return {"type": "text", "text": {"body": body, "preview_url": False}}


def _texts(text: str) -> list[dict[str, Any]]:
    """A text as text messages of at most 4096 each (none for an empty text)."""
    return [_text_message(body) for body in _converted(_html_pieces(text, TEXT_LIMIT))]


def _converted(pieces: Sequence[str]) -> list[str]:
    bodies = (to_whatsapp(piece).strip() for piece in pieces)
    return [body for body in bodies if body]


def _with_choices(text: str, choices: list[_Choice], list_button_label: str) -> list[dict[str, Any]]:
    leading, last = _leading_and_body(text)
    messages = [_text_message(body) for body in _converted(leading)]
    body = to_whatsapp(last).strip() or _EMPTY_BODY
    titles = _button_titles(choices)
    if titles is not None:
        buttons = [
            {"type": "reply", "reply": {"id": choice.id, "title": title}}
            for choice, title in zip(choices, titles, strict=True)
        ]
        messages.append(
            {
                "type": "interactive",
                "interactive": {"type": "button", "body": {"text": body}, "action": {"buttons": buttons}},
            }
        )
        return messages
    rows = _rows(choices)
    label = _shorten(list_button_label, LIST_BUTTON_LIMIT) or ELLIPSIS
    pages = [rows[at : at + MAX_ROWS] for at in range(0, len(rows), MAX_ROWS)]
    for number, page in enumerate(pages, start=1):
        interactive: dict[str, Any] = {
            "type": "list",
            "body": {"text": body if number == 1 else _EMPTY_BODY},
            "action": {"button": label, "sections": [{"rows": page}]},
        }
        if len(pages) > 1:
            interactive["footer"] = {"text": f"{number}/{len(pages)}"}
        messages.append({"type": "interactive", "interactive": interactive})
    return messages


def _button_titles(choices: list[_Choice]) -> list[str] | None:
    """Reply button titles, or None when the choices need a list (too many, too long, or alike)."""
    if len(choices) > MAX_BUTTONS:
        return None
    titles = [_tidy(choice.label, BUTTON_TITLE_LIMIT) for choice in choices]
    too_long = any(not title or units(title) > BUTTON_TITLE_LIMIT for title in titles)
    if too_long or _confusable(titles, [choice.label for choice in choices]):
        return None
    return titles


def _rows(choices: list[_Choice]) -> list[dict[str, str]]:
    titles = _distinct_titles([choice.label for choice in choices], ROW_TITLE_LIMIT)
    rows: list[dict[str, str]] = []
    for choice, title in zip(choices, titles, strict=True):
        row = {"id": choice.id, "title": title}
        full = _clean(choice.label)
        if full and full not in title:
            row["description"] = _shorten(full, ROW_DESCRIPTION_LIMIT)
        rows.append(row)
    return rows


# --- titles -----------------------------------------------------------------------------------


def _clean(label: str) -> str:
    """The label on one line, runs of whitespace as one space."""
    return " ".join(label.split())


def _tidy(label: str, limit: int) -> str:
    """The label cleaned; when too long, without its trailing punctuation too."""
    text = _clean(label)
    return text if units(text) <= limit else text.rstrip(_TRAILING)


def _fit(text: str, limit: int) -> int:
    """How many characters of text fit in limit units."""
    total = 0
    for index, char in enumerate(text):
        total += units(char)
        if total > limit:
            return index
    return len(text)


def _head_words(text: str, limit: int) -> str:
    """The longest start of text within limit, cut after a whole word if one fits (else mid-word)."""
    if units(text) <= limit:
        return text
    if limit <= 0:
        return ""
    end = _fit(text, limit)
    if text[end] == " ":
        return text[:end].rstrip()
    space = text.rfind(" ", 0, end)
    if space > 0:
        return text[:space].rstrip()
    return _clip(text[:end])


def _tail_words(text: str, limit: int) -> str:
    """The longest end of text within limit, starting at a word if one fits (else mid-word)."""
    if units(text) <= limit:
        return text
    if limit <= 0:
        return ""
    reverse = text[::-1]
    end = _fit(reverse, limit)
    if reverse[end] == " ":
        return reverse[:end][::-1].lstrip()
    space = reverse.rfind(" ", 0, end)
    if space > 0:
        return reverse[:space][::-1].lstrip()
    return reverse[:end][::-1].lstrip("\u200d\ufe0f")


def _clip(text: str) -> str:
    """Without a dangling zero-width joiner, the half of an emoji sequence cut in two."""
    return text.rstrip("\u200d")


def _shorten(label: str, limit: int) -> str:
    """The label in at most limit units: cleaned, then cut at a word boundary and ended with "…"."""
    text = _tidy(label, limit)
    if units(text) <= limit:
        return text
    head = _head_words(text, limit - units(ELLIPSIS)).rstrip(_TRAILING)
    return head + ELLIPSIS


def _keep_end(label: str, limit: int) -> str:
    """The label's start and its last words ("Jalan rusak… Selatan"): where similar labels differ."""
    text = _tidy(label, limit)
    if units(text) <= limit:
        return text
    tail = _tail_words(text, limit // 2)
    joint = ELLIPSIS + " "
    head = _head_words(text[: len(text) - len(tail)].rstrip(), limit - units(tail) - units(joint))
    head = head.rstrip(_TRAILING)
    return f"{head}{joint}{tail}" if head else ELLIPSIS + _tail_words(text, limit - units(ELLIPSIS))


def _keep_middle(label: str, limit: int, alike: Sequence[str]) -> str:
    """The label's words that differ from the alike labels, after as much of the shared start as fits.

    "Sampah di Jalan Merdeka belum diangkut" beside "… Sudirman …" → "Sampah di Jalan Merdeka …".
    """
    words = _tidy(label, limit).split(" ")
    others = [_tidy(other, limit).split(" ") for other in alike] or [[]]
    prefix = min(_common_prefix(words, other) for other in others)
    suffix = min(_common_prefix(words[prefix:][::-1], other[prefix:][::-1]) for other in others)
    middle = " ".join(words[prefix : len(words) - suffix])
    if not middle:
        return _shorten(label, limit)
    end = " " + ELLIPSIS if suffix else ""
    shared = " ".join(words[:prefix])
    title = f"{shared} {middle}{end}".strip()
    if units(title) <= limit:
        return title
    joint = ELLIPSIS + " "
    head = _head_words(shared, limit - units(middle) - units(end) - units(joint)).rstrip(_TRAILING)
    title = f"{head}{joint}{middle}{end}" if head else f"{joint}{middle}{end}"
    return title if units(title) <= limit else _shorten(joint + middle, limit)


def _common_prefix(a: Sequence[str], b: Sequence[str]) -> int:
    count = 0
    for x, y in zip(a, b, strict=False):
        if x.casefold() != y.casefold():
            break
        count += 1
    return count


def _could_be(title: str, label: str) -> bool:
    """Whether a reader could take title for label: the title's visible parts are the label's, in order."""
    full = _clean(label).casefold()
    return any(_matches(title.casefold(), candidate) for candidate in (full, full.rstrip(_TRAILING)))


def _matches(seen: str, full: str) -> bool:
    if ELLIPSIS not in seen:
        return seen == full
    parts = [part.strip() for part in seen.split(ELLIPSIS)]
    if parts[0] and not full.startswith(parts[0]):
        return False
    if parts[-1] and not full.endswith(parts[-1]):
        return False
    at = 0
    for part in parts:
        found = full.find(part, at)
        if found < 0:
            return False
        at = found + len(part)
    return True


def _confusable(titles: Sequence[str], labels: Sequence[str]) -> dict[int, list[int]]:
    """For each title a reader could misread, the other choices it could stand for."""
    confused: dict[int, list[int]] = {}
    for i, title in enumerate(titles):
        for j, label in enumerate(labels):
            same = title.casefold() == titles[j].casefold()
            if i != j and (same or _could_be(title, label) or _could_be(titles[j], labels[i])):
                confused.setdefault(i, []).append(j)
    return confused


def _distinct_titles(labels: Sequence[str], limit: int) -> list[str]:
    """Titles of at most limit units, none of which could be read as another choice's label.

    Each label is shortened at a word boundary; titles that stay confusable keep their
    distinguishing end, else their distinguishing middle; failing that, every title is numbered.
    """
    titles = [_shorten(label, limit) or ELLIPSIS for label in labels]  # WhatsApp refuses an empty title
    confused = _confusable(titles, labels)
    if not confused:
        return titles
    attempts = (
        {i: _keep_end(labels[i], limit) for i in confused},
        {i: _keep_middle(labels[i], limit, [labels[j] for j in alike]) for i, alike in confused.items()},
    )
    for attempt in attempts:
        candidate = [attempt.get(i, title) for i, title in enumerate(titles)]
        if not _confusable(candidate, labels):
            return candidate
    numbered = []
    for number, label in enumerate(labels, start=1):
        prefix = f"{number}. "
        numbered.append((prefix + _shorten(label, limit - units(prefix))).rstrip())
    return numbered


# --- media ------------------------------------------------------------------------------------

_MEDIA_TYPES = {"photo": "image", "voice": "audio", "document": "document", "video": "video"}
_HEADER_TYPES = frozenset({"image", "video", "document"})  # what may head an interactive message


def _render_media(action: OutMedia, list_button_label: str) -> list[dict[str, Any]]:
    media = action.media
    if media.channel not in (None, Channel.WHATSAPP):  # the adapter uploads it and sends the new id
        raise ValueError(f"a {media.channel} file must be uploaded to WhatsApp first: {media.file_id!r}")
    kind = _MEDIA_TYPES[media.kind]
    reference = media.file_id.strip()
    if reference.isdigit():
        content: dict[str, Any] = {"id": reference}
    elif re.match(r"https?://\S+$", reference, re.IGNORECASE):
        content = {"link": reference}
    else:
        raise ValueError(f"not a WhatsApp media id or URL: {media.file_id!r}")
    captions = _converted(_html_pieces(action.caption, CAPTION_LIMIT)) if action.caption else []
    choices = _choices(action.buttons)
    if choices:
        return _media_with_choices(kind, content, captions, choices, action.caption, list_button_label)
    rest = captions
    if captions and kind != "audio":  # audio takes no caption: the text follows it
        content["caption"], rest = captions[0], captions[1:]
    return [{"type": kind, kind: content}, *(_text_message(text) for text in rest)]


def _media_with_choices(
    kind: str,
    content: dict[str, Any],
    captions: list[str],
    choices: list[_Choice],
    caption: str,
    list_button_label: str,
) -> list[dict[str, Any]]:
    """Media with buttons: one message, the media heading reply buttons with the caption as their body,
    when the caption fits one body and the choices fit reply buttons. Otherwise (no caption for the
    required body, audio, a list's worth of choices, a longer caption) the bare media, then the
    caption with the choices as a text has them."""
    followed = _with_choices(caption, choices, list_button_label)
    single = followed[0]["interactive"] if len(followed) == 1 else None
    if kind in _HEADER_TYPES and len(captions) == 1 and single is not None and single["type"] == "button":
        single["header"] = {"type": kind, kind: content}
        return followed
    return [{"type": kind, kind: content}, *followed]


# --- HTML subset → WhatsApp markup -------------------------------------------------------------

_TAG = re.compile(r"<(?P<close>/)?(?P<name>[A-Za-z][A-Za-z0-9-]*)(?P<attrs>\s[^<>]*)?/?>")
_ENTITY = re.compile(r"&(?:#[0-9]+|#[xX][0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]*);")
_HREF = re.compile(r"""href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE)
_MARKERS = {"b": "*", "strong": "*", "i": "_", "em": "_", "s": "~", "strike": "~", "del": "~"}
_MONO = "```"
_MONO_TAGS = frozenset({"code", "pre"})
_VOID = frozenset({"br"})
_MARKER_CHARS = "*_~`"


@dataclass
class _Open:
    name: str
    start: int
    marker: str | None
    href: str | None
    depth: int


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    marker: str
    depth: int


def to_whatsapp(text: str) -> str:
    """Our HTML subset as WhatsApp text: markers where WhatsApp will honour them, else plain text."""
    plain, spans = _flatten(text)
    marks = [mark for span in spans for mark in _segments(plain, span)]
    opens: dict[int, list[_Span]] = {}
    closes: dict[int, list[_Span]] = {}
    for mark in marks:
        opens.setdefault(mark.start, []).append(mark)
        closes.setdefault(mark.end, []).append(mark)
    out: list[str] = []
    for at in range(len(plain) + 1):
        # Inner pairs close first and outer ones open first, so pairs nest.
        out.extend(m.marker for m in sorted(closes.get(at, ()), key=lambda m: (-m.start, -m.depth)))
        out.extend(m.marker for m in sorted(opens.get(at, ()), key=lambda m: (-m.end, m.depth)))
        if at < len(plain):
            out.append(plain[at])
    return "".join(out)


def _flatten(text: str) -> tuple[str, list[_Span]]:
    """The rendered text and the styled ranges in it (a style inside the same style or code is dropped)."""
    chunks: list[str] = []
    size = 0
    stack: list[_Open] = []
    spans: list[_Span] = []

    def add(chunk: str) -> None:
        nonlocal size
        chunks.append(chunk)
        size += len(chunk)

    def close(element: _Open) -> None:
        if element.marker is not None:
            spans.append(_Span(element.start, size, element.marker, element.depth))
        if element.href:
            label = "".join(chunks)[element.start :].strip()
            if not label:
                add(element.href)
            elif element.href not in label:
                add(f": {element.href}")

    at = 0
    for match in _TAG.finditer(text):
        add(html.unescape(text[at : match.start()]))
        at = match.end()
        name = match.group("name").lower()
        if name in _VOID:
            add("\n")
            continue
        if match.group("close"):
            for depth in range(len(stack) - 1, -1, -1):
                if stack[depth].name == name:
                    while len(stack) > depth:
                        close(stack.pop())
                    break
            continue  # a closing tag that closes nothing is dropped
        active = {element.marker for element in stack}
        marker = _MONO if name in _MONO_TAGS else _MARKERS.get(name)
        if _MONO in active or marker in active:
            marker = None
        href = None
        if name == "a" and match.group("attrs"):
            found = _HREF.search(match.group("attrs"))
            if found:
                href = html.unescape(next(group for group in found.groups() if group is not None)).strip()
        stack.append(_Open(name, size, marker, href or None, len(stack)))
    add(html.unescape(text[at:]))
    while stack:
        close(stack.pop())
    return "".join(chunks), spans


def _segments(plain: str, span: _Span) -> Iterator[_Span]:
    """The parts of a styled range WhatsApp will show styled: per line (code: whole), trimmed, bounded."""
    if span.marker == _MONO:
        parts = [(span.start, span.end)]
    else:
        parts = []
        start = span.start
        for index in range(span.start, span.end):
            if plain[index] == "\n":
                parts.append((start, index))
                start = index + 1
        parts.append((start, span.end))
    for start, end in parts:
        while start < end and plain[start].isspace():
            start += 1
        while end > start and plain[end - 1].isspace():
            end -= 1
        if start == end or span.marker[0] in plain[start:end]:
            continue
        if start > 0 and not _boundary(plain[start - 1]):
            continue
        if end < len(plain) and not _boundary(plain[end]):
            continue
        yield _Span(start, end, span.marker, span.depth)


def _boundary(char: str) -> bool:
    """Whether a marker may touch this character: a space or punctuation, not a letter or digit."""
    if char.isspace():
        return True
    return char not in _MARKER_CHARS and unicodedata.category(char)[0] in "PS"


# --- cutting ----------------------------------------------------------------------------------


def _html_pieces(text: str, limit: int) -> list[str]:
    """Pieces of HTML (split_html's) whose WhatsApp rendering fits in limit units each."""
    pieces: list[str] = []
    for piece in split_html(text, limit):
        pieces.extend(_fitting(piece, limit, 0))
    return pieces


def _fitting(piece: str, limit: int, attempt: int) -> list[str]:
    """piece, or pieces of it, that still fit once markers (and link addresses) are added."""
    size = units(to_whatsapp(piece))
    if size <= limit:
        return [piece]
    smaller = limit - (size - limit)
    parts = split_html(piece, smaller) if attempt < 4 and smaller >= limit // 2 else [piece]
    if len(parts) < 2:  # no progress: cut the rendered text, markers and all
        return [html.escape(part, quote=False) for part in split_text(to_whatsapp(piece), limit)]
    return [fit for part in parts for fit in _fitting(part, limit, attempt + 1)]


def _leading_and_body(text: str) -> tuple[list[str], str]:
    """HTML pieces to send as texts (≤4096 rendered) and the last one (≤1024) for an interactive body."""
    pieces = _html_pieces(text, TEXT_LIMIT)
    last = pieces[-1] if pieces else ""
    if units(to_whatsapp(last).strip()) <= BODY_LIMIT:
        return pieces[:-1], last
    head, tail = _cut_tail(last, BODY_LIMIT)
    return [*pieces[:-1], head], tail


@dataclass(frozen=True)
class _Atom:
    """A character, an entity or a tag: what a cut may not enter."""

    raw: str
    size: int
    tag: str | None = None
    closing: bool = False


_ATOM = re.compile(f"{_TAG.pattern}|{_ENTITY.pattern}")


def _atoms(text: str) -> list[_Atom]:
    atoms: list[_Atom] = []
    at = 0
    for match in _ATOM.finditer(text):
        atoms.extend(_Atom(char, units(char)) for char in text[at : match.start()])
        raw = match.group()
        name = match.group("name")
        if name:
            atoms.append(_Atom(raw, 0, name.lower(), bool(match.group("close"))))
        else:
            atoms.append(_Atom(raw, units(html.unescape(raw))))
        at = match.end()
    atoms.extend(_Atom(char, units(char)) for char in text[at:])
    return atoms


def _cut_tail(text: str, limit: int) -> tuple[str, str]:
    """text as (head, tail): the tail renders in at most limit units, cut at a paragraph, line or space."""
    atoms = _atoms(text)
    budget = limit
    for _ in range(6):
        head, tail = _split_at(atoms, _tail_start(atoms, budget))
        size = units(to_whatsapp(tail).strip())
        if size <= limit:
            return head, tail
        budget -= size - limit
        if budget < limit // 4:
            break
    parts = split_text(to_whatsapp(text), limit)  # no progress: cut the rendered text, markers and all
    return html.escape("\n".join(parts[:-1]), quote=False), html.escape(parts[-1], quote=False)


def _tail_start(atoms: list[_Atom], budget: int) -> int:
    """Where the tail starts: the earliest separator that leaves at most budget (and over half of it)."""
    suffix = [0] * (len(atoms) + 1)
    for index in range(len(atoms) - 1, -1, -1):
        suffix[index] = suffix[index + 1] + atoms[index].size
    earliest = next(index for index in range(len(atoms) + 1) if suffix[index] <= budget)
    earliest = max(earliest, 1)
    for separator in ("\n\n", "\n", " "):
        for index in range(earliest, len(atoms)):
            if suffix[index] * 2 < budget:
                break
            if _ends_with(atoms, index, separator):
                return index
    return earliest


def _ends_with(atoms: list[_Atom], end: int, separator: str) -> bool:
    """Whether the characters before atoms[end] (tags aside) end with separator."""
    wanted = len(separator)
    at = end - 1
    while wanted > 0 and at >= 0:
        atom = atoms[at]
        if atom.tag is None:
            if atom.raw != separator[wanted - 1]:
                return False
            wanted -= 1
        at -= 1
    return wanted == 0


def _split_at(atoms: list[_Atom], index: int) -> tuple[str, str]:
    """The HTML before and after index, each balanced: tags open at the cut are closed and reopened."""
    stack: list[_Atom] = []
    for atom in atoms[:index]:
        if atom.tag is None or atom.tag in _VOID:
            continue
        if not atom.closing:
            stack.append(atom)
            continue
        for depth in range(len(stack) - 1, -1, -1):
            if stack[depth].tag == atom.tag:
                del stack[depth:]
                break
    head = "".join(atom.raw for atom in atoms[:index]).rstrip()
    head += "".join(f"</{atom.tag}>" for atom in reversed(stack))
    tail = "".join(atom.raw for atom in stack) + "".join(atom.raw for atom in atoms[index:]).lstrip()
    return head, tail


# --- inbound ----------------------------------------------------------------------------------


def parse_webhook(body: Any) -> tuple[list[Inbound], list[StatusUpdate]]:
    """The messages and delivery receipts in a messages webhook body; malformed pieces are skipped.

    Never raises: whatever cannot be read is logged and left out.
    """
    inbound: list[Inbound] = []
    statuses: list[StatusUpdate] = []
    if not isinstance(body, dict) or body.get("object") != "whatsapp_business_account":
        log.warning("not a WhatsApp Business Account webhook: %.200r", body)
        return inbound, statuses
    for value in _values(body):
        names = _names(value.get("contacts"))
        for message in _items(value.get("messages")):
            try:
                event = _message(message, names)
            except (KeyError, TypeError, ValueError, AttributeError) as error:  # ValidationError too
                log.warning("unreadable WhatsApp message skipped (%s): %.300r", error, message)
                continue
            if event is not None:
                inbound.append(event)
        for status in _items(value.get("statuses")):
            try:
                update = _status(status)
            except (KeyError, TypeError, ValueError, AttributeError) as error:
                log.warning("unreadable WhatsApp status skipped (%s): %.300r", error, status)
                continue
            if update is not None:
                statuses.append(update)
        for problem in _items(value.get("errors")):
            log.warning("WhatsApp webhook error: %.300r", problem)
    return inbound, statuses


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _values(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The ``value`` of each change of the ``messages`` field."""
    for entry in _items(body.get("entry")):
        if not isinstance(entry, dict):
            log.warning("WhatsApp webhook entry skipped: %.200r", entry)
            continue
        for change in _items(entry.get("changes")):
            if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
                log.warning("WhatsApp webhook change skipped: %.200r", change)
                continue
            if change.get("field", "messages") != "messages":
                log.info("WhatsApp webhook field %r ignored", change.get("field"))
                continue
            yield change["value"]


def _names(contacts: Any) -> dict[str, str]:
    """Profile names by WhatsApp id."""
    names: dict[str, str] = {}
    for contact in _items(contacts):
        if not isinstance(contact, dict):
            continue
        profile = contact.get("profile")
        name = profile.get("name") if isinstance(profile, dict) else None
        wa_id = contact.get("wa_id")
        if isinstance(wa_id, str) and isinstance(name, str) and name.strip():
            names[wa_id] = name.strip()
    return names


def _string(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} missing")
    return value


def _message(message: Any, names: dict[str, str]) -> Inbound | None:
    """The message as an Inbound event; None for a reaction or a message in a WhatsApp group."""
    if not isinstance(message, dict):
        raise TypeError("message is not an object")
    wamid = _string(message.get("id"), "id")
    if message.get("group_id"):
        log.info("WhatsApp group message %s ignored: groups are not supported", wamid)
        return None
    sender = _string(message.get("from"), "from")
    kind = message.get("type")
    if kind == "reaction":  # an emoji on one of our messages: nothing to answer (Telegram sends none)
        log.info("WhatsApp reaction %s ignored", wamid)
        return None
    fields = _content(message, kind)
    context = message.get("context")
    reply_to = context.get("id") if isinstance(context, dict) else None
    # A press answers the message with the buttons: Telegram's presses carry no "reply" either.
    pressed = kind in ("interactive", "button")
    if not isinstance(reply_to, str) or not reply_to or pressed:
        reply_to = None
    if isinstance(message.get("errors"), list):
        log.info("WhatsApp message %s of type %r came with errors %.300r", wamid, kind, message["errors"])
    return Inbound(
        channel=Channel.WHATSAPP,
        event_id=wamid,
        chat_id=sender,
        user_id=sender,
        message_id=wamid,
        display_name=names.get(sender) or (next(iter(names.values())) if len(names) == 1 else None),
        reply_to_message_id=reply_to,
        **fields,
    )


def _part(message: dict[str, Any], key: str) -> dict[str, Any]:
    part = message.get(key)
    if not isinstance(part, dict):
        raise ValueError(f"{key} object missing")
    return part


def _caption(part: dict[str, Any]) -> str | None:
    caption = part.get("caption")
    return caption if isinstance(caption, str) and caption else None


def _media(part: dict[str, Any], kind: Literal["photo", "voice", "document", "video"]) -> MediaRef:
    sha256 = part.get("sha256")
    return MediaRef(
        kind=kind,
        file_id=_string(part.get("id"), "media id"),
        unique_id=sha256 if isinstance(sha256, str) and sha256 else None,
        channel=Channel.WHATSAPP,
    )


def _content(message: dict[str, Any], kind: Any) -> dict[str, Any]:
    """The Inbound fields that depend on the message's type."""
    if kind == "text":
        body = _part(message, "text").get("body")
        if not isinstance(body, str):
            raise ValueError("text body missing")
        return text_fields(body)
    if kind == "interactive":
        interactive = _part(message, "interactive")
        reply = interactive.get(interactive.get("type") or "")
        if interactive.get("type") in ("button_reply", "list_reply") and isinstance(reply, dict):
            return _pressed(_string(reply.get("id"), "reply id"))
        return {"kind": InboundKind.OTHER}  # a Flow's answer (nfm_reply) and the like
    if kind == "button":  # a quick-reply button of a template message
        button = _part(message, "button")
        payload = button.get("payload")
        if isinstance(payload, str) and payload:
            return _pressed(payload)
        return text_fields(_string(button.get("text"), "button text"))
    if kind == "location":
        location = _part(message, "location")
        return {
            "kind": InboundKind.LOCATION,
            "location": Location(
                latitude=_number(location, "latitude"), longitude=_number(location, "longitude")
            ),
        }
    if kind == "image":
        image = _part(message, "image")
        return {"kind": InboundKind.PHOTO, "media": (_media(image, "photo"),), "text": _caption(image)}
    if kind in ("audio", "voice"):  # voice notes have "voice": true; we treat all audio alike
        return {"kind": InboundKind.VOICE, "media": (_media(_part(message, kind), "voice"),)}
    if kind == "document":
        document = _part(message, "document")
        return {
            "kind": InboundKind.DOCUMENT,
            "media": (_media(document, "document"),),
            "text": _caption(document),
        }
    if kind == "video":  # not accepted as evidence (yet): OTHER, with the reference kept
        video = _part(message, "video")
        return {"kind": InboundKind.OTHER, "media": (_media(video, "video"),), "text": _caption(video)}
    if kind == "sticker":
        return {"kind": InboundKind.STICKER}
    if kind == "contacts":
        return {"kind": InboundKind.CONTACT}
    return {"kind": InboundKind.OTHER}  # reaction, unsupported, unknown, system, order, ...


def _pressed(reply_id: str) -> dict[str, Any]:
    """A button or list row press: the payload, or the text of a text-reply button (skip_label)."""
    if reply_id.startswith(TEXT_REPLY_PREFIX):
        return text_fields(reply_id.removeprefix(TEXT_REPLY_PREFIX))
    return {"kind": InboundKind.BUTTON, "payload": reply_id}


def _number(part: dict[str, Any], key: str) -> float:
    value = part.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{key} is not a number")
    return float(value)


def _status(status: Any) -> StatusUpdate | None:
    """A delivery receipt; None for the kinds we do not track (played, deleted, ...)."""
    if not isinstance(status, dict):
        raise TypeError("status is not an object")
    name = status.get("status")
    if name not in _STATUSES:
        log.debug("WhatsApp status %r ignored", name)
        return None
    stamp = status.get("timestamp")
    if isinstance(stamp, bool) or not isinstance(stamp, int | str):
        raise ValueError("timestamp missing")
    error = None
    errors = status.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        title = first.get("title") or first.get("message") or ""
        error = f"{first.get('code', '')} {title}".strip() or "unknown error"
    elif name == "failed":
        error = "unknown error"
    return StatusUpdate(
        message_id=_string(status.get("id"), "id"),
        status=name,
        recipient=_string(status.get("recipient_id"), "recipient_id"),
        timestamp=int(stamp),
        error=error,
    )
