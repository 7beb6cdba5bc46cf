"""Emergency detection: a life-threatening emergency gets the emergency number, a complaint does not."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from workflows.emergency import is_emergency

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(
    "text",
    [
        # Indonesian, formal and informal
        "kebakaran di pasar kota barat!!",
        "tolong ada kebakaran rumah di gang kelinci, apinya besar!",
        "rumah tetangga terbakar",
        "ada api keluar dari tiang listrik",
        "tolong ada yang tenggelam di sungai",
        "anak tenggelam di kolam retensi, cepat",
        "ada kecelakaan di perempatan, korban pingsan",
        "tabrakan motor vs truk di jl sudirman, ada korban",
        "kcelakaan di depan pasar, orangnya berdarah2",  # typo + reduplication
        "bapak2 tiba2 pingsan di halte",
        "ada orang tergeletak tdk sadarkan diri di trotoar",
        "tolong!! ibu saya sesak napas",
        "pengendara motor tertabrak bus, luka parah",
        "ada orang ketabrak mobil",
        "warga terjebak banjir di atap rumah",
        "ada korban tertimpa pohon tumbang",
        "seorang pekerja kesetrum di gardu listrik",
        "ada yang jatuh dari jembatan",
        "kebakran gudang di pesisir",
        "tolong ada yg ditusuk di pasar",
        "ada ledakan tabung gas di rumah makan",
        "kecelakaan lalu lintas di bundaran, dua orang terluka",
        # English
        "There is a fire at the market, please hurry",
        "my neighbour's house is on fire",
        "accident on the highway, someone is bleeding",
        "a man collapsed at the bus stop and is unconscious",
        "someone is drowning in the river",
        "help, my father is having a heart attack",
        "help, he is dying",
        "a child was hit by a car in front of the school",
        "he is not breathing",
        "the kiosk exploded and people are injured",
        "HELP! drowning near the bridge",
    ],
)
def test_emergencies_are_recognised(text: str) -> None:
    assert is_emergency(text)


@pytest.mark.parametrize(
    "text",
    [
        "lampu jalan mati",
        "sampah menumpuk",
        # a risk, a wish to prevent one, or a pattern is a complaint, not an emergency now
        "jalan rusak bisa bikin kecelakaan",
        "jalan berlubang rawan kecelakaan, tolong diperbaiki sebelum ada korban",
        "lampu merah di perempatan mati, rawan tabrakan",
        "tolong diperbaiki jangan sampai ada korban",
        "sering terjadi kecelakaan di turunan ini",
        "sudah 3 kali terjadi kecelakaan di tikungan ini",
        "Jalan di depan SDN 2 berlubang besar, sudah banyak pengendara motor jatuh.",
        "The road is full of potholes and could cause an accident",
        "this junction is accident-prone",
        "someone will get hurt if the pothole is not fixed",
        "the street light is broken, someone might get hurt at night",
        "there are many accidents at this corner",
        "an accident waiting to happen",
        # past or negated
        "kemarin ada kecelakaan di sini karena lampu mati",
        "tidak ada korban jiwa dalam kejadian itu",
        "korban kebakaran bulan lalu belum dapat bantuan",
        "dulu pernah ada kebakaran di sini",
        "there was an accident here last week",
        "no one was hurt but the tree blocked the road",
        # the words, in another sense
        "banyak warga kena DBD, anak saya demam berdarah",
        "terjebak macet 2 jam di simpang lima",
        "rumah saya tenggelam banjir tiap hujan",
        "sampah hanyut di sungai",
        "pembakaran sampah oleh warga tiap sore",
        "nenek saya meninggal, mau urus akta kematian",
        "saya jadi korban pungli di kelurahan",
        "pelayanan di ruang gawat darurat lambat",
        "The hospital emergency room staff were rude",
        "the fire hydrant on my street is leaking",
        "the fire station is far from our village",
        "people keep burning trash behind the mosque",
        "a big tree fell on the power lines",
        "the website crashed again",
        "harga cabai jatuh",
        "kereta api telat terus",
        "lampu PJU jatuh ke jalan, tolong diangkat",
        "ok",
        "",
    ],
)
def test_complaints_are_not_emergencies(text: str) -> None:
    assert not is_emergency(text)


def test_no_ordinary_complaint_in_the_labelled_sets_is_an_emergency() -> None:
    flagged = [
        item["text"]
        for name in ("classify_eval.yaml", "classify_holdout.yaml")
        for item in yaml.safe_load((DATA / name).read_text(encoding="utf-8"))
        if is_emergency(item["text"])
    ]
    assert flagged == []
