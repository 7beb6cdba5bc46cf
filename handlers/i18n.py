"""Translating catalogue keys into the person's language, with user-supplied values escaped."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any


class Safe(str):
    """A value already in the outbound markup: inserted without escaping."""

    __slots__ = ()


def escape(value: object) -> str:
    """User text inside our small HTML subset: &, < and > can never become markup."""
    return html.escape(str(value), quote=False)


def normalise(text: str) -> str:
    """Lower case, no surrounding punctuation or emoji, single spaces: how typed words are compared."""
    words = re.sub(r"[^\w\s']+", " ", text.casefold())
    return " ".join(words.split())


class MissingText(KeyError):
    """A catalogue key that no catalogue has."""


class Translator:
    """Looks a key up in the city's overrides, then the catalogue of the language, then Indonesian."""

    def __init__(
        self,
        catalogues: Mapping[str, Mapping[str, str]],
        overrides: Mapping[str, Mapping[str, str]] | None = None,
        default_language: str = "id",
    ) -> None:
        self._catalogues = catalogues
        self._overrides = overrides or {}
        self.default_language = default_language
        self.languages = tuple(catalogues)
        self._words: dict[str, frozenset[str]] = {}

    def template(self, key: str, language: str) -> str:
        for lang in (language, self.default_language):
            for source in (self._overrides, self._catalogues):
                text = source.get(lang, {}).get(key)
                if text is not None:
                    return text
        raise MissingText(key)

    def has(self, key: str) -> bool:
        return any(
            key in source.get(lang, {})
            for lang in self.languages
            for source in (self._overrides, self._catalogues)
        )

    def __call__(self, key: str, language: str, **params: Any) -> str:
        """The text for key in language, each parameter escaped unless it is Safe."""
        values = {k: v if isinstance(v, Safe) else escape(v) for k, v in params.items()}
        return self.template(key, language).format(**values)

    def plain(self, key: str, language: str, **params: Any) -> str:
        """The text for key as plain text (button labels): nothing is markup, nothing is escaped."""
        return self.template(key, language).format(**params)

    def all_languages(self, key: str) -> set[str]:
        """Every language's text for key (to recognise a reply-keyboard label in any language)."""
        return {self.template(key, lang) for lang in self.languages}

    def words(self, key: str) -> frozenset[str]:
        """A comma-separated word list (`words.yes`, ...) of every language, normalised, cached."""
        cached = self._words.get(key)
        if cached is None:
            entries = ",".join(self.all_languages(key)).split(",")
            cached = frozenset(normalise(entry) for entry in entries if entry.strip())
            self._words[key] = cached
        return cached
