"""Spot messages about a life-threatening emergency, to point the citizen to the emergency number.

The bot is not an emergency service; when a message describes one happening now, it should
tell the citizen to call 112 at once instead of filing a complaint. A false alarm on an
ordinary complaint is confusing and teaches citizens to ignore the warning, so this module
prefers precision: it looks for an incident happening now, not for alarming words.

Decision, per clause (text split at ",", ";", "!", "?" and sentence ends, then normalised
like the classifier: lower case, chat abbreviations expanded, repeated letters collapsed):

* an incident phrase must be present: fire ("kebakaran", "ada api", "on fire"), a crash
  ("kecelakaan", "tabrakan", "hit by a car"), someone hurt or unwell ("terluka", "berdarah",
  "pingsan", "tidak sadarkan diri", "unconscious", "heart attack", "not breathing"),
  violence in progress ("ditusuk", "stabbed"), or victims ("ada korban", "korban jiwa");
* some phrases need a person, since they also describe things: "tenggelam", "hanyut",
  "terjebak", "tertimpa", "jatuh", "drowning", "collapsed", "fell", "dying" count after a
  word for a person ("anak tenggelam", "ada yang tenggelam", "someone collapsed") or, with no
  noun before them, when the message asks for help ("tolong", "help", "darurat"); never after
  a thing ("rumah tenggelam", "tree fell", "terjebak macet"). "crash" needs a vehicle or person;
* the phrase does not count when, within three words before it, the clause is hypothetical,
  preventive, habitual, past or negated ("bisa bikin kecelakaan", "rawan kecelakaan",
  "sebelum ada korban", "jangan sampai", "sering", "tidak ada korban", "could cause an
  accident", "accident-prone", "no one was hurt", "many accidents"), or when within four
  words after it the clause places it in the past or as a risk ("kecelakaan bulan lalu",
  "an accident waiting to happen", "kebakaran sudah padam");
* a few compounds are not incidents at all: "demam berdarah" (dengue), "fire hydrant",
  "fire station", "burning trash", "ruang gawat darurat".

So "jalan rusak bisa bikin kecelakaan" (a road that could cause accidents) and "lampu merah
mati, rawan tabrakan" are complaints, not emergencies; "ada kecelakaan di perempatan, korban
pingsan" is an emergency. Long typos of the key words ("kecelakan", "kebakran") still count.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from rapidfuzz import fuzz, process

from workflows.classify import clauses
from workflows.language import is_common_word

_BEFORE_WINDOW: Final = 3
_AFTER_WINDOW: Final = 4
_GATE_WINDOW: Final = 4
_FUZZY_MIN_LENGTH: Final = 7
_FUZZY_CUTOFF: Final = 90.0


@dataclass(frozen=True)
class _Trigger:
    tokens: tuple[str, ...]
    gate: str | None = None  # "person" or "vehicle": needs one before it (or a call for help)
    incident: bool = False  # an event noun: "many accidents" is habitual
    not_before: frozenset[str] = frozenset()  # the word right before makes it something else
    not_after: frozenset[str] = frozenset()  # the word right after makes it something else


def _triggers(spec: str, gate: str | None = None) -> list[_Trigger]:
    return [
        _Trigger(tuple(line.split()), gate, incident=line.split()[0] in _INCIDENTS)
        for line in spec.strip().splitlines()
    ]


_INCIDENTS: Final = frozenset(
    "kebakaran ledakan kecelakaan tabrakan accident collision explosion crash fire".split()
)


_FIRE_COMPOUNDS: Final = frozenset(
    """
    hydrant hydrants station department dept brigade truck trucks extinguisher extinguishers
    exit escape alarm alarms fighter fighters service works safety drill hazard risk
    insurance code
    """.split()
)
_BURNABLE: Final = frozenset("trash garbage rubbish waste leaves plastic smell sensation sampah".split())

_TRIGGERS: Final[tuple[_Trigger, ...]] = (
    *_triggers(
        """
        kebakaran
        terbakar
        ada api
        api besar
        api membesar
        kobaran api
        keluar api
        ledakan
        meledak
        gas bocor
        kecelakaan
        tabrakan
        tabrak lari
        ditabrak
        tertabrak
        ketabrak
        terlindas
        kelindas
        tertembak
        ditembak
        terluka
        luka parah
        luka berat
        luka luka
        pendarahan
        perdarahan
        bersimbah darah
        pingsan
        tidak sadarkan diri
        tidak sadar
        tidak bernapas
        tidak bernafas
        sesak napas
        sesak nafas
        kejang
        serangan jantung
        overdosis
        keracunan
        sekarat
        kesetrum
        tersetrum
        tersengat listrik
        terseret arus
        perampokan
        dirampok
        ditusuk
        penusukan
        dibacok
        pembacokan
        penganiayaan
        dianiaya
        dipukuli
        pembunuhan
        penculikan
        diculik
        bunuh diri
        ada korban
        korban jiwa
        korban luka
        korban meninggal
        meninggal di tempat
        banyak korban
        ini darurat
        keadaan darurat
        kondisi darurat
        on fire
        blaze
        explosion
        exploded
        gas leak
        accident
        collision
        hit by a car
        hit by a motorbike
        hit by a truck
        run over
        hit and run
        injured
        got hurt
        badly hurt
        seriously hurt
        bleeding
        wounded
        unconscious
        passed out
        fainted
        not breathing
        stopped breathing
        can not breathe
        electrocuted
        heart attack
        cardiac arrest
        seizure
        overdose
        stabbed
        robbery
        being robbed
        been shot
        gunshot
        assaulted
        kidnapped
        suicide
        an emergency
        medical emergency
        """
    ),
    _Trigger(
        ("fire",),
        incident=True,
        not_before=frozenset({"cease", "camp", "open"}),
        not_after=_FIRE_COMPOUNDS,
    ),
    _Trigger(("burning",), not_after=_BURNABLE),
    _Trigger(("berdarah",), not_before=frozenset({"demam"})),
    *_triggers(
        """
        tenggelam
        hanyut
        tertimpa
        terjepit
        tertimbun
        jatuh
        hampir mati
        tidak bergerak
        hurt
        drowning
        drowned
        swept away
        trapped
        collapsed
        fell
        knocked down
        dying
        attacked
        not moving
        not responding
        """,
        gate="person",
    ),
    _Trigger(("terjebak",), "person", not_after=frozenset({"macet", "kemacetan", "antrean", "antrian"})),
    _Trigger(("crash",), "vehicle", incident=True),
    _Trigger(("crashed",), "vehicle"),
)

# Hypothetical, preventive, habitual, past or negated: the incident is not happening now.
_NOT_NOW_BEFORE: Final = frozenset(
    """
    bisa bakal akan nanti mungkin potensi berpotensi rawan rentan risiko resiko bahaya
    berbahaya membahayakan takut khawatir kuatir cemas jangan sebelum sampai menunggu tunggu
    nunggu kalau jika bila apabila seandainya mencegah cegah pencegahan antisipasi hindari
    menghindari agar supaya biar sering kerap pernah dulu bekas pasca sisa setelah sesudah
    tidak bukan tanpa belum menyebabkan mengakibatkan sebabkan bikin membuat memicu kemarin
    lalu kali tiap setiap langganan asuransi santunan klaim simulasi pelatihan
    sosialisasi bantuan
    could can may might would will going risk risky danger dangerous hazard hazardous prone
    before until avoid prevent prevention cause causes causing lead leads if when whenever
    often frequently frequent no not nobody without never last previous
    past yesterday history waiting wait afraid fear worried worry scared insurance drill
    training times every potential possible possibly
    """.split()
)
_NOT_NOW_AFTER: Final = frozenset(
    """
    bisa dapat mungkin sering lalu kemarin dulu padam dipadamkan tiap setiap rawan
    prone insurance report rate risk statistics claim last ago yesterday every could might
    may waiting happen happens extinguished
    """.split()
)

_PERSONS: Final = frozenset(
    """
    orang seseorang anak bocah balita bayi warga pria wanita laki perempuan bapak ibu pak bu
    kakek nenek korban pengendara pejalan pemotor sopir supir pengemudi penumpang pekerja
    buruh siswa murid tetangga adik kakak suami istri ayah mama papa teman pemuda remaja
    lansia dia mereka nelayan
    someone somebody anyone person people man men woman women child children kid kids boy
    girl baby father mother dad mom grandma grandpa grandmother grandfather son daughter
    brother sister husband wife neighbor neighbour worker workers driver rider passenger
    pedestrian student victim he she they i im
    """.split()
)
_VEHICLES: Final = (
    frozenset(
        """
    car cars motorbike motorbikes motorcycle motorcycles bike bus truck trucks vehicle
    vehicles van taxi motor mobil angkot truk bis
    """.split()
    )
    | _PERSONS
)
_THINGS: Final = frozenset(
    """
    rumah jalan jalanan sawah kampung desa mobil motor kendaraan perumahan gang kota daerah
    wilayah halaman kebun ladang lahan gedung sampah pohon tiang harga nilai
    house houses home road roads street streets car cars field fields village area building
    garbage trash tree trees pole price prices website site app system server computer
    """.split()
)
# Before an incident noun, "many accidents" is a pattern of accidents, not one happening now;
# before "injured" ("banyak orang terluka") it is a present emergency.
_HABITUAL: Final = frozenset("banyak beberapa many several lots".split())
_HELP: Final = frozenset("tolong help sos darurat urgent emergency".split())


def is_emergency(text: str) -> bool:
    """True when the message describes a life-threatening emergency happening now."""
    parts = [[_canonical(token) for token in clause] for clause in clauses(text)]
    asks_help = any(word in _HELP for clause in parts for word in clause)
    for tokens in parts:
        for start in range(len(tokens)):
            for trigger in _BY_FIRST.get(tokens[start], ()):
                end = start + len(trigger.tokens)
                if tuple(tokens[start:end]) != trigger.tokens:
                    continue
                if _counts(trigger, tokens, start, end, asks_help):
                    return True
    return False


def _counts(trigger: _Trigger, tokens: list[str], start: int, end: int, asks_help: bool) -> bool:
    """Whether this occurrence of an incident phrase describes an incident happening now."""
    first = max(0, start - _BEFORE_WINDOW)
    for index in range(first, start):
        word = tokens[index]
        if word in _NOT_NOW_BEFORE and not _traffic(tokens, index):
            return False
        if trigger.incident and word in _HABITUAL:
            return False
    for index in range(end, min(len(tokens), end + _AFTER_WINDOW)):
        if tokens[index] in _NOT_NOW_AFTER and not _traffic(tokens, index):
            return False
    if start > 0 and tokens[start - 1] in trigger.not_before:
        return False
    if end < len(tokens) and tokens[end] in trigger.not_after:
        return False
    if start >= 2 and tokens[start - 2 : start] == ["gawat", "darurat"]:
        return False
    if trigger.gate is None:
        return True
    allowed = _PERSONS if trigger.gate == "person" else _VEHICLES
    window = tokens[max(0, start - _GATE_WINDOW) : start]
    for index in range(len(window) - 1, -1, -1):  # the nearest noun before the phrase decides
        word = window[index]
        if word == "yang" and index > 0 and window[index - 1] == "ada":
            return True  # "ada yang tenggelam": someone is drowning
        if word in allowed:
            return True
        if word in _THINGS:
            return False
    # no noun before it: only a bare call for help ("help! drowning") makes it count
    return asks_help and all(is_common_word(word) or word in _HELP for word in window)


def _traffic(tokens: list[str], index: int) -> bool:
    """ "lalu" in "lalu lintas" (traffic) does not mean "ago"."""
    return tokens[index] == "lalu" and tokens[index + 1 : index + 2] == ["lintas"]


_BY_FIRST: Final[dict[str, tuple[_Trigger, ...]]] = {
    first: tuple(t for t in _TRIGGERS if t.tokens[0] == first) for first in {t.tokens[0] for t in _TRIGGERS}
}
_FUZZY_POOL: Final = tuple(sorted({t.tokens[0] for t in _TRIGGERS if len(t.tokens[0]) >= _FUZZY_MIN_LENGTH}))


@lru_cache(maxsize=50_000)
def _canonical(token: str) -> str:
    """The token, or the long incident word it is a typo of ("kecelakan" → "kecelakaan")."""
    if token in _BY_FIRST or len(token) < _FUZZY_MIN_LENGTH or is_common_word(token):
        return token
    # same first letter; an inflection ("accidents") is not a typo and keeps its own meaning
    pool = [w for w in _FUZZY_POOL if w[0] == token[0] and not token.startswith(w)]
    best = process.extractOne(token, pool, scorer=fuzz.ratio, score_cutoff=_FUZZY_CUTOFF)
    return best[0] if best is not None else token
