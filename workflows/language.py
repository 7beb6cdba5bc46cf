"""Which served language a citizen wrote in: Indonesian ("id") or English ("en").

langdetect is used restricted to the languages served: a private DetectorFactory loads only
the bundled profiles for Indonesian and English (and Malay, counted as Indonesian, where the
installed langdetect ships it), with a fixed seed so the same text always gets the same answer.
It is built once, on first use.

Chat messages are short and informal ("jln rusak gk dibenerin2", "ok", "halo min"), where
n-gram statistics are unreliable, so a small list of very common function words and chat slang
in each language is counted too:

* no letters at all (numbers, emojis): `default`;
* very short texts (under three words or a dozen letters): the marker words decide, else
  `default`;
* short texts (under six words): the marker majority decides; on a tie langdetect's answer
  when it is confident, else `default`;
* longer texts: clear marker evidence (two or more hits, at least twice the other side's)
  decides; otherwise langdetect's answer when it is confident, then the marker majority,
  then `default`.

Street names ("Jalan Sudirman", "Jl. Merdeka") appear in English messages too, so "jalan"
is not a marker word.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
from langdetect.lang_detect_exception import LangDetectException

SERVED_LANGUAGES: tuple[str, ...] = ("id", "en")

# langdetect profile → served language. Malay is close enough to Indonesian to count as it.
_PROFILES: dict[str, str] = {"id": "id", "ms": "id", "en": "en"}
_SEED = 20240501
_MIN_WORDS = 3
_SHORT_WORDS = 6
_MIN_LETTERS = 12
_CONFIDENT = 0.80
_MAX_CHARS = 600  # the opening of a long message says enough about its language

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_REPEATS = re.compile(r"(\w)\1{2,}")

# Very common words that, alone, say which language a short chat message is in. Words that
# both languages use in chat ("ok", "hi", "hello", "min", "wifi") are deliberately absent.
_INDONESIAN = frozenset(
    """
    yg yang gak ga gk nggak ngga enggak engga tidak tdk tak udah udh sdh sudah dah blm belum
    bgt banget tolong tlg mohon pak bu bapak ibu mas mbak kak bang halo hallo permisi
    di ke dari dr dan ini itu ada saya sy aku gue gw kami kita kalian dia mereka dengan dgn
    untuk utk buat sama sm juga jg aja saja sj sih dong deh kok nih tuh lagi lg sangat
    terima kasih makasih trims selamat pagi siang sore malam apa apakah kenapa knp mengapa
    gimana gmn bagaimana kapan dimana mana siapa berapa brp bisa bs tapi tp tetapi karena krn
    sekarang skrg kemarin kmrn besok sejak rumah rmh depan dpn mati rusak warga
    ya iya yah mau minta masih msh lama hari minggu seminggu bulan tahun parah banyak bnyk
    belakang samping dekat sebelah tiap setiap sampai sampe kalau kalo kl padahal pdhl
    tanya nanya mengapa segera cepat sekali terus trus trs tolongin dibenerin diperbaiki
    nya kah lah pun wis ora opo durung nggih monggo mboten euy teh mah atuh
    """.split()
)
_ENGLISH = frozenset(
    """
    the is are was were be been being am has have had having please there their not
    this that these those it its my our your i we you they he she them me us of in on at
    for with from to and but or because since very already yet any some anyone nobody
    what why how when where who which can could would should will shall do does did done
    dont doesnt didnt isnt arent wasnt cant wont havent hasnt im ive youre theyre
    street road house home near front week weeks days day month still help thanks thank
    good morning evening night broken working off out since ago again every here
    yes thx pls plz
    """.split()
)


def detect_language(text: str, *, default: str = "id") -> str:
    """Return "id" or "en" for a citizen's message; `default` when it cannot be told."""
    if default not in SERVED_LANGUAGES:
        raise ValueError(f"default {default!r} is not served; use one of {SERVED_LANGUAGES}")
    lowered = text.lower().replace("'", "").replace("’", "")  # "don't" → "dont"
    words = [_REPEATS.sub(r"\1", w) for w in _WORD.findall(lowered)]
    if not words:
        return default
    id_hits = sum(word in _INDONESIAN for word in words)
    en_hits = sum(word in _ENGLISH for word in words)
    if len(words) < _MIN_WORDS or sum(map(len, words)) < _MIN_LETTERS:
        return _majority(id_hits, en_hits, default)
    if len(words) < _SHORT_WORDS and id_hits != en_hits:
        return _majority(id_hits, en_hits, default)
    if id_hits >= 2 and id_hits >= 2 * en_hits:
        return "id"
    if en_hits >= 2 and en_hits >= 2 * id_hits:
        return "en"
    guess = _langdetect(text[:_MAX_CHARS])
    if guess is not None:
        language, probability = guess
        if probability >= _CONFIDENT:
            return language
    return _majority(id_hits, en_hits, default)


def _majority(id_hits: int, en_hits: int, default: str) -> str:
    if id_hits > en_hits:
        return "id"
    if en_hits > id_hits:
        return "en"
    return default


def _langdetect(text: str) -> tuple[str, float] | None:
    """langdetect's best served language and its probability, or None if it has no clue."""
    detector = _factory().create()
    detector.append(text)
    try:
        probabilities = detector.get_probabilities()
    except LangDetectException:  # no usable features (only digits, symbols)
        return None
    totals: dict[str, float] = {}
    for item in probabilities:
        served = _PROFILES.get(item.lang)
        if served is not None:
            totals[served] = totals.get(served, 0.0) + item.prob
    if not totals:
        return None
    language = max(totals, key=lambda key: totals[key])
    return language, totals[language]


@cache
def _factory() -> DetectorFactory:
    """The restricted, seeded langdetect factory, built once on first use."""
    directory = Path(PROFILES_DIRECTORY)
    profiles = [
        (directory / name).read_text(encoding="utf-8") for name in _PROFILES if (directory / name).is_file()
    ]
    factory = DetectorFactory()
    factory.load_json_profile(profiles)
    factory.set_seed(_SEED)
    loaded = {json.loads(p)["name"] for p in profiles}
    if not {"id", "en"} <= loaded:
        raise RuntimeError(f"langdetect profiles for id and en are missing in {directory}")
    return factory


def is_common_word(word: str) -> bool:
    """True for a very common Indonesian or English chat word (lower-case), e.g. "yg", "the"."""
    return word in _INDONESIAN or word in _ENGLISH
