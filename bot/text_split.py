"""Splitting long texts for platforms with a length limit, at line or word boundaries."""

from __future__ import annotations


def units(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units: an emoji counts two)."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` units, cut after a newline or space where possible."""
    pieces: list[str] = []
    rest = text
    while units(rest) > limit:
        cut = _fit(rest, limit)
        window = rest[:cut]
        for separator in ("\n\n", "\n", " "):
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
