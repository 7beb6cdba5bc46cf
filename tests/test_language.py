"""Language detection: the bot answers in the language the citizen wrote in."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from workflows.language import SERVED_LANGUAGES, detect_language

DATA = Path(__file__).parent / "data"


def test_only_indonesian_and_english_are_served() -> None:
    assert SERVED_LANGUAGES == ("id", "en")


@pytest.mark.parametrize(
    "text",
    [
        "jln depan rmh sy rusak parah gk dibenerin2",
        "lampu pju mati udh seminggu",
        "sampah numpuk bgt min, udh 3 hari ga diangkut",
        "tolong pak, got mampet",
        "air pdam keruh kecoklatan",
        "Mohon segera ditindaklanjuti, jalan di depan sekolah berlubang besar.",
        "banjirrr lagi min",
        "ktp sy blm jadi",
        "yg bener aja, sdh 2 minggu",
    ],
)
def test_informal_and_formal_indonesian_is_indonesian(text: str) -> None:
    assert detect_language(text, default="en") == "id"


@pytest.mark.parametrize(
    "text",
    [
        "the street light in front of my house has been off for a week",
        "There is a huge pile of rubbish next to the market",
        "please fix the pothole",
        "The drains are blocked again.",
        "no water since yesterday",
        "my ID card hasn't arrived",
        "thank you",
    ],
)
def test_english_is_english(text: str) -> None:
    assert detect_language(text, default="id") == "en"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("traffic light di bundaran ga nyala", "id"),  # English loanword in Indonesian
        ("tolong please, jalan rusak parah", "id"),
        ("pothole on Jalan Sudirman", "en"),  # Indonesian street name in English
        ("The road at Jl. Merdeka is flooded again", "en"),
        ("where is the dukcapil office", "en"),
        ("ktp saya hilang", "id"),
    ],
)
def test_mixed_messages_follow_the_sentence_not_the_names(text: str, expected: str) -> None:
    assert detect_language(text) == expected
    assert detect_language(text, default="en" if expected == "id" else "id") == expected


@pytest.mark.parametrize("text", ["ok", "123", "👍👍", "", "   ", "?!", "Jl. 17"])
def test_texts_without_a_language_get_the_default(text: str) -> None:
    assert detect_language(text, default="id") == "id"
    assert detect_language(text, default="en") == "en"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("halo", "id"), ("makasih", "id"), ("gak", "id"), ("the", "en"), ("thanks", "en"), ("please", "en")],
)
def test_one_common_word_decides(text: str, expected: str) -> None:
    assert detect_language(text, default="en" if expected == "id" else "id") == expected


def test_other_languages_come_out_as_a_served_one() -> None:
    for text in ["Bonjour, la rue est très sale", "Die Straße ist kaputt", "道路が壊れています"]:
        assert detect_language(text) in SERVED_LANGUAGES


def test_the_answer_is_the_same_every_time() -> None:
    text = "Pothole besar di depan pasar, bahaya"
    answers = {detect_language(text) for _ in range(25)}
    assert len(answers) == 1


def test_unserved_default_is_refused() -> None:
    with pytest.raises(ValueError, match="not served"):
        detect_language("halo", default="fr")


def test_labelled_citizen_messages_are_detected_in_their_language() -> None:
    items = [
        item
        for name in ("classify_eval.yaml", "classify_holdout.yaml")
        for item in yaml.safe_load((DATA / name).read_text(encoding="utf-8"))
    ]
    wrong = [item["text"] for item in items if detect_language(item["text"]) != item["lang"]]
    accuracy = 1 - len(wrong) / len(items)
    assert accuracy >= 0.97, f"language accuracy {accuracy:.3f}; wrong: {wrong}"
