"""Splitting long texts for platforms with a length limit, at line or word boundaries.

`split_text` cuts plain text. `split_html` cuts our HTML subset (<b>, <i>, <u>, <s>, <code>, <pre>,
&lt; &gt; &amp; &quot; and numeric entities) the way Telegram measures it: the rendered text in
UTF-16 code units (a tag counts nothing, an entity counts as its character). It never cuts inside a
tag or an entity, and closes the tags open at a cut and reopens them in the next piece, so every
piece parses on its own.
"""

from __future__ import annotations

import html
import re

from handlers.messages import units

SEPARATORS = ("\n\n", "\n", " ")


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` units, cut after a newline or space where possible."""
    pieces: list[str] = []
    rest = text
    while units(rest) > limit:
        cut = _fit(rest, limit)
        window = rest[:cut]
        for separator in SEPARATORS:
            at = window.rfind(separator)
            if at > cut // 2:
                cut = at + len(separator)
                break
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n")
    pieces.append(rest)
    return [p for p in pieces if p] or [""]


def _fit(text: str, limit: int) -> int:
    """The number of characters of text that fit in limit units."""
    total = 0
    for index, char in enumerate(text):
        total += 2 if ord(char) > 0xFFFF else 1
        if total > limit:
            return index
    return len(text)


# A tag (<b>, </b>, <pre>, <code class="language-py">) or an entity (&lt; &#34; &#x1F600;).
_MARKUP = re.compile(
    r"<(?P<close>/?)(?P<name>[A-Za-z][A-Za-z0-9-]*)(?:\s[^<>]*)?>"
    r"|&(?:#[0-9]+|#[xX][0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]*);"
)


class _Atom:
    """The smallest thing a cut may not enter: a character, an entity, or a tag."""

    __slots__ = ("closing", "raw", "shown", "size", "tag")

    def __init__(self, raw: str, shown: str = "", tag: str | None = None, closing: bool = False) -> None:
        self.raw = raw
        self.shown = shown  # the rendered character(s); empty for a tag
        self.tag = tag  # the tag's name
        self.closing = closing
        self.size = units(shown) if len(shown) != 1 else 2 if ord(shown) > 0xFFFF else 1


def _atoms(text: str) -> list[_Atom]:
    atoms: list[_Atom] = []
    at = 0
    for match in _MARKUP.finditer(text):
        atoms.extend(_Atom(char, char) for char in text[at : match.start()])
        raw = match.group()
        if match.group("name"):
            atoms.append(_Atom(raw, tag=match.group("name").lower(), closing=bool(match.group("close"))))
        else:
            atoms.append(_Atom(raw, html.unescape(raw)))
        at = match.end()
    atoms.extend(_Atom(char, char) for char in text[at:])
    return atoms


def _apply(stack: list[_Atom], atom: _Atom) -> None:
    """Follow the open tags: push an opening tag, pop a closing one (and whatever it left open)."""
    if atom.tag is None:
        return
    if not atom.closing:
        stack.append(atom)
        return
    for depth in range(len(stack) - 1, -1, -1):
        if stack[depth].tag == atom.tag:
            del stack[depth:]
            return


def _opening(stack: list[_Atom]) -> str:
    return "".join(atom.raw for atom in stack)


def _closing(stack: list[_Atom]) -> str:
    return "".join(f"</{atom.tag}>" for atom in reversed(stack))


_EMPTY_PAIR = re.compile(r"<([A-Za-z][A-Za-z0-9-]*)(?:\s[^<>]*)?></\1>")


def _without_empty_pairs(text: str) -> str:
    while True:
        shorter = _EMPTY_PAIR.sub("", text)
        if shorter == text:
            return text
        text = shorter


def split_html(text: str, limit: int) -> list[str]:
    """Pieces of Telegram HTML whose rendered text is at most `limit` UTF-16 units each.

    Cut after a blank line, else a newline, else a space, when that is past half the piece (as
    split_text does); never inside a tag or an entity. Tags open at a cut are closed at the end of
    the piece and reopened at the start of the next, so each piece is balanced on its own.
    A text that fits is returned unchanged.
    """
    if units(text) <= limit:
        return [text]  # markup only ever renders shorter than it is written
    atoms = _atoms(text)
    remaining = sum(atom.size for atom in atoms)
    if remaining <= limit:
        return [text]
    pieces: list[str] = []
    stack: list[_Atom] = []  # tags open where the current piece starts
    start = 0
    while remaining > limit:
        end, used = _hard_cut(atoms, start, limit)
        end = _soft_cut(atoms, start, end, used) or end
        while end < len(atoms) and atoms[end].closing:
            end += 1  # a closing tag belongs with what it closes
        piece = _opening(stack)
        for atom in atoms[start:end]:
            _apply(stack, atom)
        piece += "".join(atom.raw for atom in _rstrip(atoms[start:end])) + _closing(stack)
        pieces.append(_without_empty_pairs(piece))
        remaining -= sum(atom.size for atom in atoms[start:end])
        start = end
        while start < len(atoms) and atoms[start].raw == "\n":
            remaining -= 1
            start += 1
    pieces.append(_without_empty_pairs(_opening(stack) + "".join(atom.raw for atom in atoms[start:])))
    return [piece for piece in pieces if _rendered(piece).strip()] or [""]


def _hard_cut(atoms: list[_Atom], start: int, limit: int) -> tuple[int, int]:
    """The end of the longest run from start that fits in limit (at least one character), its size."""
    used = 0
    for index in range(start, len(atoms)):
        size = atoms[index].size
        if used + size > limit and used > 0:
            return index, used
        used += size
    return len(atoms), used


def _soft_cut(atoms: list[_Atom], start: int, end: int, used: int) -> int | None:
    """The end just after the last separator in atoms[start:end] found past half the piece."""
    for separator in SEPARATORS:
        size = used
        for index in range(end - 1, start - 1, -1):
            atom = atoms[index]
            if atom.tag is None and atom.raw == separator[-1] and _ends_with(atoms, start, index, separator):
                before = size - atom.size - (len(separator) - 1)
                if before <= used // 2:
                    break
                return index + 1
            size -= atom.size
    return None


def _ends_with(atoms: list[_Atom], start: int, index: int, separator: str) -> bool:
    """Whether the characters (not entities) up to atoms[index] end with separator, tags aside."""
    wanted = len(separator) - 1
    at = index - 1
    while wanted > 0 and at >= start:
        atom = atoms[at]
        if atom.tag is None:
            if atom.raw != separator[wanted - 1]:
                return False
            wanted -= 1
        at -= 1
    return wanted == 0


def _rstrip(atoms: list[_Atom]) -> list[_Atom]:
    """Without the trailing whitespace characters (the tags among them stay)."""
    last = len(atoms)
    while last > 0 and (atoms[last - 1].tag is not None or atoms[last - 1].raw.isspace()):
        last -= 1
    return atoms[:last] + [atom for atom in atoms[last:] if atom.tag is not None]


def _rendered(piece: str) -> str:
    return "".join(atom.shown for atom in _atoms(piece))
