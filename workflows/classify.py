"""Guess a complaint's category from its free text, using the city's own keywords.

The keywords come from the city configuration (`categories.<key>.keywords.id/en`), so a
city's admins tune them without touching code. Both lists are matched whatever language the
message is in, because citizens mix them ("traffic light di bundaran mati").

Text and keywords go through the same normalisation:

* lower case, punctuation removed; ",", ";", "!", "?" and sentence-ending "." split clauses
  (a phrase never matches across two clauses);
* letters repeated three or more times collapse ("bauuu" → "bau", "banjirrr" → "banjir");
* reduplication with "2" or "-" is spelled out ("lubang2" → "lubang lubang");
* common chat abbreviations and informal forms are expanded ("jln" → "jalan", "gk" → "tidak",
  "udh" → "sudah", "aer" → "air", "lalin" → "lalu lintas");
* a street name ("Jl. Melati", "jln mawar", "Jalan Sudirman") drops the word "jalan", so an
  address does not count as a complaint about a road; "jalan rusak", "jln depan rumah" keep it.

A word of the message that is not a keyword word is then tried without a suffix ("-nya",
"-lah", English "-s", "-ed", "-ing") and, if it has five letters or more, against the keyword
words with rapidfuzz (same first letter, similarity of 85% or more) to catch typos such as
"smpah" or "berlobang". Very common words ("sampai", "luang") are never fuzzy-matched.

Multi-word keywords match as phrases; one extra word between their words is tolerated
("lampu pju mati" matches "lampu mati") at a lower weight. Where keywords of different
categories overlap, the longer, tighter phrase wins ("lampu merah" beats "lampu").

Scores: a one-word keyword weighs 1, each extra word adds 0.5; typo and gapped matches weigh
less, and a few generic words ("jalan", "air", "lampu", "road", "water"...) weigh half, since
they appear in many complaints that are not about them. A keyword right after "depan", "dekat",
"near", "in front of"... weighs half too: "lubang di depan sekolah" is about a hole, and the
school only says where it is. A category's score is the sum over its
distinct keywords found. Confidence grows with the best score and shrinks when another
category scores close to it; below a score of 0.5 the city's fallback category is returned
with confidence 0.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from rapidfuzz import fuzz, process

from workflows.city_config import CityConfig
from workflows.language import detect_language, is_common_word

_MAX_GAP: Final = 1  # words tolerated between the words of a multi-word keyword
_GAP_FACTOR: Final = 0.8
_FUZZY_FACTOR: Final = 0.8
_GENERIC_WEIGHT: Final = 0.5
_MIN_SCORE: Final = 0.5
_FUZZY_MIN_LENGTH: Final = 5
_FUZZY_CUTOFF: Final = 85.0
_CONFLICT_PENALTY: Final = 0.75
_LANDMARK_FACTOR: Final = 0.5
_CACHE_LIMIT: Final = 50_000
_BREAK: Final = ""  # clause break in a flattened token list

# Words that name a thing many complaints mention in passing; as one-word keywords they
# count half.
_GENERIC: Final = frozenset(
    """
    jalan jalanan lampu air rusak mati bau kotor gelap bantuan sakit kendaraan
    road street water light lights dark smell broken damaged pipe
    """.split()
)

# "depan sekolah", "near the school": a keyword right after one of these names a landmark
# that says where the problem is, not what it is.
_SPATIAL: Final = frozenset(
    """
    depan dekat samping belakang sebelah seberang sekitar pinggir ujung
    near front behind beside opposite next outside across
    """.split()
)
_FILLERS: Final = frozenset("di ke dengan the a an of to".split())

# Indonesian one-word keywords that are also everyday English words: ignored in English text.
_ENGLISH_HOMOGRAPHS: Final = frozenset({"got", "air", "liar", "kali", "rob", "pos", "data"})

# Words close in spelling to keyword words but meaning something else.
_NO_FUZZY: Final = frozenset(
    """
    sampai sampan luang lampau banjar parkit gelas jalani jalankan jalanin rumahnya
    lubuk muridnya waiter later
    """.split()
)

_SUFFIXES: Final = ("nya", "ny", "lah", "kah", "pun", "an", "es", "s", "ed", "d", "ing")

_ABBREVIATIONS: Final = MappingProxyType(
    {
        # negation, aspect, pronouns, connectives
        "yg": "yang",
        "yng": "yang",
        "gk": "tidak",
        "gak": "tidak",
        "ga": "tidak",
        "g": "tidak",
        "gag": "tidak",
        "nggak": "tidak",
        "ngga": "tidak",
        "enggak": "tidak",
        "engga": "tidak",
        "kagak": "tidak",
        "ndak": "tidak",
        "tdk": "tidak",
        "tak": "tidak",
        "ora": "tidak",
        "sdh": "sudah",
        "udh": "sudah",
        "udah": "sudah",
        "dah": "sudah",
        "uda": "sudah",
        "blm": "belum",
        "blum": "belum",
        "belom": "belum",
        "bgt": "banget",
        "bngt": "banget",
        "bener": "benar",
        "bnr": "benar",
        "sy": "saya",
        "sya": "saya",
        "gw": "saya",
        "gue": "saya",
        "aq": "aku",
        "dgn": "dengan",
        "dg": "dengan",
        "krn": "karena",
        "karna": "karena",
        "tp": "tapi",
        "tpi": "tapi",
        "utk": "untuk",
        "untk": "untuk",
        "bs": "bisa",
        "bsa": "bisa",
        "org": "orang",
        "orng": "orang",
        "dr": "dari",
        "dri": "dari",
        "sm": "sama",
        "jg": "juga",
        "aja": "saja",
        "sj": "saja",
        "knp": "kenapa",
        "gmn": "bagaimana",
        "gimana": "bagaimana",
        "bgmn": "bagaimana",
        "bkn": "bukan",
        "dmn": "dimana",
        "dlm": "dalam",
        "kpd": "kepada",
        "ttg": "tentang",
        "spt": "seperti",
        "sbg": "sebagai",
        "hrs": "harus",
        "brp": "berapa",
        "mslh": "masalah",
        "sgt": "sangat",
        "pdhl": "padahal",
        "pdhal": "padahal",
        "kalo": "kalau",
        "klo": "kalau",
        "msh": "masih",
        "lg": "lagi",
        "trs": "terus",
        "trus": "terus",
        "skrg": "sekarang",
        "skrng": "sekarang",
        "kmrn": "kemarin",
        "kmrin": "kemarin",
        "tlg": "tolong",
        "tlng": "tolong",
        "mhn": "mohon",
        "bnyk": "banyak",
        "byk": "banyak",
        "dpt": "dapat",
        "dapet": "dapat",
        "nyampe": "sampai",
        "sampe": "sampai",
        "smpe": "sampai",
        "pake": "pakai",
        "dipake": "dipakai",
        "gede": "besar",
        # time
        "hr": "hari",
        "mgg": "minggu",
        "mggu": "minggu",
        "bln": "bulan",
        "thn": "tahun",
        "tgl": "tanggal",
        "mlm": "malam",
        "malem": "malam",
        # places
        "jl": "jalan",
        "jln": "jalan",
        "jaln": "jalan",
        "rmh": "rumah",
        "rumh": "rumah",
        "dpn": "depan",
        "blkg": "belakang",
        "sblh": "sebelah",
        "gg": "gang",
        "kec": "kecamatan",
        "kel": "kelurahan",
        "perum": "perumahan",
        "tmpt": "tempat",
        "sklh": "sekolah",
        "skolah": "sekolah",
        "sekola": "sekolah",
        # complaint vocabulary, informal → standard
        "lmpu": "lampu",
        "smph": "sampah",
        "aer": "air",
        "ujan": "hujan",
        "ngalir": "mengalir",
        "numpuk": "menumpuk",
        "nutup": "menutup",
        "nutupin": "menutupi",
        "nimpa": "menimpa",
        "ancur": "hancur",
        "ngucur": "mengucur",
        "skt": "sakit",
        "lalin": "lalu lintas",
        "ambulan": "ambulans",
        "dibenerin": "diperbaiki",
        "benerin": "perbaiki",
        "lobang": "lubang",
        "berlobang": "berlubang",
        # English contractions (apostrophes are dropped first: "hasn't" → "hasnt")
        "isnt": "is not",
        "arent": "are not",
        "wasnt": "was not",
        "werent": "were not",
        "hasnt": "has not",
        "havent": "have not",
        "hadnt": "had not",
        "dont": "do not",
        "doesnt": "does not",
        "didnt": "did not",
        "cant": "can not",
        "cannot": "can not",
        "wont": "will not",
        "couldnt": "could not",
        "wouldnt": "would not",
    }
)

_URL = re.compile(r"https?://\S+|www\.\S+|\S+@\S+\.\w+")
_APOSTROPHE_S = re.compile(r"['’]s\b")
_APOSTROPHE = re.compile(r"['’`]")
_SHORT_DOT = re.compile(r"\b(\w{1,3})\.")  # "jl.", "gg.", "no." are abbreviations, not ends
_CLAUSE = re.compile(r"[.,;:!?\n\r()\[\]{}\"“”|]+")
_REDUPLICATION = re.compile(r"\b([^\W\d_]{2,})2(an|nya|in)?\b")
_REPEATS = re.compile(r"([^\W\d_])\1{2,}")
_TOKEN = re.compile(r"[^\W_]+")
_STREET = re.compile(r"\b(jalan|jln|jl)\b(\.?)\s*([^\W_]+)", re.IGNORECASE)


def clauses(text: str) -> list[list[str]]:
    """Split text into clauses of normalised tokens: lower case, letters de-repeated, expanded."""
    lowered = unicodedata.normalize("NFKC", text).lower()
    lowered = _URL.sub(" ", lowered)
    lowered = _APOSTROPHE.sub("", _APOSTROPHE_S.sub("", lowered))
    lowered = _SHORT_DOT.sub(r"\1 ", lowered)
    result: list[list[str]] = []
    for part in _CLAUSE.split(lowered):
        part = _REDUPLICATION.sub(r"\1 \1\2", part)
        part = _REPEATS.sub(r"\1", part)
        tokens: list[str] = []
        for token in _TOKEN.findall(part):
            expansion = _ABBREVIATIONS.get(token)
            if expansion is None:
                tokens.append(token)
            else:
                tokens.extend(expansion.split())
        if tokens:
            result.append(tokens)
    return result


@dataclass(frozen=True)
class Classification:
    """The category guessed for a message, its unit, how sure, and the keywords behind it."""

    category: str
    unit: str
    confidence: float
    language: str
    matched: tuple[str, ...]


@dataclass(frozen=True)
class _Phrase:
    tokens: tuple[str, ...]
    owners: tuple[tuple[str, str, bool], ...]  # (category, keyword as written, Indonesian only)
    weight: float


@dataclass(frozen=True)
class _Match:
    phrase: _Phrase
    positions: tuple[int, ...]
    gaps: int
    fuzzy: bool


class Classifier:
    """Scores a city's categories against a message; build once per configuration."""

    def __init__(self, config: CityConfig) -> None:
        self._config = config
        self._order = {key: index for index, key in enumerate(config.categories)}
        owners: dict[tuple[str, ...], dict[str, tuple[str, bool]]] = {}
        for key, category in config.categories.items():
            for language, keywords in (("id", category.keywords.id), ("en", category.keywords.en)):
                for keyword in keywords:
                    tokens = tuple(token for clause in clauses(keyword) for token in clause)
                    if not tokens:
                        continue
                    id_only = language == "id" and len(tokens) == 1 and tokens[0] in _ENGLISH_HOMOGRAPHS
                    owners.setdefault(tokens, {}).setdefault(key, (keyword, id_only))
        by_first: dict[str, list[_Phrase]] = {}
        for tokens, by_category in owners.items():
            phrase = _Phrase(
                tokens=tokens,
                owners=tuple((key, kw, id_only) for key, (kw, id_only) in by_category.items()),
                weight=_weight(tokens),
            )
            by_first.setdefault(tokens[0], []).append(phrase)
        self._by_first: dict[str, tuple[_Phrase, ...]] = {
            first: tuple(sorted(phrases, key=lambda p: -len(p.tokens))) for first, phrases in by_first.items()
        }
        self._vocabulary = frozenset(token for tokens in owners for token in tokens)
        pools: dict[str, list[str]] = {}
        for word in sorted(self._vocabulary):
            if len(word) >= _FUZZY_MIN_LENGTH and word.isalpha():
                pools.setdefault(word[0], []).append(word)
        self._fuzzy_pools = {letter: tuple(words) for letter, words in pools.items()}
        self._canonical_cache: dict[str, tuple[str, bool]] = {}

    def classify(self, text: str) -> Classification:
        """Guess the category of one citizen message."""
        language = detect_language(text)
        tokens, fuzzy = self._tokens(text)
        scores: dict[str, float] = {}
        found: dict[str, dict[str, tuple[float, int]]] = {}  # category → keyword → (weight, at)
        for match in self._resolve(self._candidates(tokens, fuzzy, language == "en")):
            weight = match.phrase.weight
            if match.gaps:
                weight *= _GAP_FACTOR
            if match.fuzzy:
                weight *= _FUZZY_FACTOR
            if _after_spatial_word(tokens, match.positions[0]):
                weight *= _LANDMARK_FACTOR
            for key, keyword, id_only in match.phrase.owners:
                if id_only and language == "en":
                    continue
                keywords = found.setdefault(key, {})
                previous = keywords.get(keyword)
                if previous is None or previous[0] < weight:
                    keywords[keyword] = (weight, match.positions[0])
        for key, keywords in found.items():
            scores[key] = sum(weight for weight, _ in keywords.values())
        ranking = sorted(scores, key=lambda key: (-scores[key], -len(found[key]), self._order[key]))
        if not ranking or scores[ranking[0]] < _MIN_SCORE:
            return self._result(self._config.fallback_category, 0.0, language, ())
        best = ranking[0]
        runner_up = scores[ranking[1]] if len(ranking) > 1 else 0.0
        confidence = _confidence(scores[best], runner_up)
        matched = tuple(sorted(found[best], key=lambda keyword: found[best][keyword][1]))
        return self._result(best, confidence, language, matched)

    def _result(self, key: str, confidence: float, language: str, matched: tuple[str, ...]) -> Classification:
        return Classification(
            category=key,
            unit=self._config.category(key).unit,
            confidence=min(1.0, max(0.0, confidence)),
            language=language,
            matched=matched,
        )

    def _tokens(self, text: str) -> tuple[list[str], list[bool]]:
        """The message as canonical tokens with clause breaks, and which were typo-matched."""
        text = _STREET.sub(self._street, text)
        tokens: list[str] = []
        fuzzy: list[bool] = []
        for clause in clauses(text):
            for token in clause:
                canonical, corrected = self._canonical(token)
                tokens.append(canonical)
                fuzzy.append(corrected)
            tokens.append(_BREAK)
            fuzzy.append(False)
        return tokens, fuzzy

    def _street(self, match: re.Match[str]) -> str:
        """Drop "Jl"/"Jalan" before a street name; keep it before words such as "rusak"."""
        word, dot, following = match.group(1), match.group(2), match.group(3)
        lowered = following.lower()
        if lowered in self._vocabulary or is_common_word(lowered) or lowered.isdigit():
            return match.group(0)
        if dot or following[:1].isupper() or word.lower() != "jalan":
            return following
        return match.group(0)

    def _canonical(self, token: str) -> tuple[str, bool]:
        """A token as a keyword word if it is one (bar suffix or typo), and whether by typo."""
        cached = self._canonical_cache.get(token)
        if cached is not None:
            return cached
        result = self._lookup(token)
        if len(self._canonical_cache) >= _CACHE_LIMIT:
            self._canonical_cache.clear()
        self._canonical_cache[token] = result
        return result

    def _lookup(self, token: str) -> tuple[str, bool]:
        if token in self._vocabulary or len(token) < 3 or not token.isalpha():
            return token, False
        stems = [
            token[: -len(suffix)]
            for suffix in _SUFFIXES
            if token.endswith(suffix) and len(token) - len(suffix) >= 3
        ]
        for stem in stems:
            if stem in self._vocabulary:
                return stem, False
        if token in _NO_FUZZY or is_common_word(token):
            return token, False
        for candidate in (token, *stems[:1]):
            if len(candidate) < _FUZZY_MIN_LENGTH:
                continue
            pool = self._fuzzy_pools.get(candidate[0], ())
            best = process.extractOne(candidate, pool, scorer=fuzz.ratio, score_cutoff=_FUZZY_CUTOFF)
            if best is not None:
                return best[0], True
        return token, False

    def _candidates(self, tokens: list[str], fuzzy: list[bool], english: bool) -> list[_Match]:
        """Every keyword occurrence, overlapping ones included."""
        found: list[_Match] = []
        end = len(tokens)
        for start, token in enumerate(tokens):
            if not token:
                continue
            for phrase in self._by_first.get(token, ()):
                if english and all(id_only for _, _, id_only in phrase.owners):
                    continue  # "got" in "I got no reply" is not the Indonesian gutter
                positions = [start]
                for word in phrase.tokens[1:]:
                    at = _find(tokens, word, positions[-1] + 1, min(end, positions[-1] + 2 + _MAX_GAP))
                    if at is None:
                        break
                    positions.append(at)
                else:
                    gaps = positions[-1] - start - (len(positions) - 1)
                    used_fuzzy = any(fuzzy[p] for p in positions)
                    found.append(_Match(phrase, tuple(positions), gaps, used_fuzzy))
        return found

    @staticmethod
    def _resolve(candidates: list[_Match]) -> list[_Match]:
        """Keep longer, tighter matches; drop one inside another or on another category's words."""
        taken: dict[int, frozenset[str]] = {}
        kept: list[_Match] = []
        for match in sorted(candidates, key=lambda m: (-len(m.positions), m.gaps, m.positions[0])):
            owners = frozenset(key for key, _, _ in match.phrase.owners)
            if all(p in taken for p in match.positions):
                continue  # inside a longer match: "sampah" in "tumpukan sampah" adds nothing
            if any(p in taken and not owners <= taken[p] for p in match.positions):
                continue
            for p in match.positions:
                taken.setdefault(p, owners)
            kept.append(match)
        return kept


def _after_spatial_word(tokens: list[str], position: int) -> bool:
    """Whether the word before `position`, fillers skipped, is "depan", "near" and the like."""
    index = position - 1
    while index >= 0 and tokens[index] in _FILLERS:
        index -= 1
    return index >= 0 and tokens[index] in _SPATIAL


def _find(tokens: list[str], word: str, start: int, stop: int) -> int | None:
    for index in range(start, stop):
        if tokens[index] == word:
            return index
        if not tokens[index]:
            return None
    return None


def _weight(tokens: tuple[str, ...]) -> float:
    if len(tokens) == 1 and tokens[0] in _GENERIC:
        return _GENERIC_WEIGHT
    return 1.0 + 0.5 * (len(tokens) - 1)


def _confidence(best: float, runner_up: float) -> float:
    """Grows with the best score, shrinks as the runner-up gets close to it."""
    strength = 1.0 - math.exp(-best)
    return strength * (1.0 - _CONFLICT_PENALTY * (runner_up / best))


def describe(text: str, config: CityConfig) -> dict[str, object]:
    """The classification of `text` as a JSON-ready dict, as `civicbot classify` prints it."""
    result = Classifier(config).classify(text)
    return {
        "language": result.language,
        "category": result.category,
        "category_name": config.category(result.category).name.id,
        "unit": result.unit,
        "confidence": round(result.confidence, 2),
        "matched": list(result.matched),
    }
