"""Every text exists in Indonesian and English; user text is escaped; long texts split safely."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.channels.telegram import COMMANDS
from bot.text_split import split_text, units
from handlers.i18n import Safe, Translator
from handlers.messages import Channel
from handlers.states import INTAKE_STATES, State
from locales import load_catalogues
from models import Identity, TicketStatus
from tests.dialog import Dialog

ROOT = Path(__file__).resolve().parent.parent
LITERAL_KEY = re.compile(
    r"""(?:\bt|\bsay|button|menu_button|staff_text|texts|plain|reply)\(\s*["']([a-z_.]+)["']"""
)


def test_both_catalogues_have_the_same_keys_and_placeholders(catalogues: dict[str, dict[str, str]]) -> None:
    assert set(catalogues) == {"id", "en"}
    assert set(catalogues["id"]) == set(catalogues["en"])
    for key, text in catalogues["id"].items():
        fields = set(re.findall(r"{(\w+)}", text))
        assert fields == set(re.findall(r"{(\w+)}", catalogues["en"][key])), key


def test_every_key_the_code_names_exists(catalogues: dict[str, dict[str, str]]) -> None:
    used = set()
    for path in [*ROOT.glob("handlers/*.py"), *ROOT.glob("bot/*.py"), *ROOT.glob("bot/channels/*.py")]:
        used |= set(LITERAL_KEY.findall(path.read_text(encoding="utf-8")))
    # keys built at run time
    used |= {f"ticket_status.{s.value}" for s in TicketStatus}
    used |= {f"identity.{i.value}" for i in Identity}
    used |= {f"intake.identity.{i.value}_button" for i in Identity}
    used |= {
        f"nudge.{s.value}"
        for s in INTAKE_STATES
        if s in (State.PHOTOS, State.IDENTITY, State.SUMMARY, State.EDIT)
    }
    used |= {
        f"duration.{u}_{n}"
        for u in ("working_days", "working_hours", "days", "hours", "minutes", "seconds")
        for n in ("one", "other")
    }
    used |= {f"commands.{c}" for commands in COMMANDS.values() for c in commands}
    used |= {f"words.{w}" for w in ("yes", "no", "skip", "done", "thanks", "greeting", "cancel", "tickets")}
    missing = sorted(k for k in used if k not in catalogues["id"])
    assert len(used) > 80
    assert missing == []


def test_parameters_are_escaped_unless_marked_safe() -> None:
    texts = Translator({"id": {"k": "<b>{name}</b> {extra}"}, "en": {}})
    assert (
        texts("k", "en", name="<script>&", extra=Safe("<i>ok</i>")) == "<b>&lt;script&gt;&amp;</b> <i>ok</i>"
    )


def test_city_overrides_win(catalogues: dict[str, dict[str, str]]) -> None:
    texts = Translator(catalogues, overrides={"id": {"menu.help": "❓ Tolong"}})
    assert texts("menu.help", "id") == "❓ Tolong"
    assert texts("menu.help", "en") == "❓ Help"


def test_long_texts_split_at_line_breaks_within_the_limit() -> None:
    text = "\n".join(f"baris {i} " + "x" * 50 for i in range(200))
    pieces = split_text(text, 4096)
    assert len(pieces) > 1
    assert all(units(p) <= 4096 for p in pieces)
    assert "".join(pieces).replace("\n", "") == text.replace("\n", "")
    assert split_text("😀" * 3000, 4096)[0] == "😀" * 2048  # emoji count twice on Telegram


async def test_whatsapp_citizens_are_not_told_to_press_telegram_s_location_button(
    citizen: Callable[..., Dialog],
) -> None:
    """The location question has WhatsApp words (its `@whatsapp` variant); Telegram keeps its own."""
    on_whatsapp = citizen(user_id="6281200000001", channel=Channel.WHATSAPP)
    on_telegram = citizen(user_id="1001")
    for warga in (on_whatsapp, on_telegram):
        await warga.say("/start")
        await warga.press("Buat pengaduan")
        await warga.press("Sampah")
        await warga.say("Sampah di TPS Jl. Melati sudah 3 hari tidak diangkut")
    assert "Di mana lokasinya?" in on_whatsapp.text and "Kirim lokasi saya" not in on_whatsapp.text
    assert on_whatsapp.keyboard is not None  # the adapter adds how to share a location in WhatsApp
    assert "Tekan tombol <b>Kirim lokasi saya</b>" in on_telegram.text


def test_a_feature_catalogue_joins_its_language_and_a_key_twice_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "id.yaml").write_text("menu: Menu utama\n", encoding="utf-8")
    (tmp_path / "id.broadcast.yaml").write_text("broadcast.sent: Terkirim\n", encoding="utf-8")
    (tmp_path / "en.yaml").write_text("menu: Main menu\n", encoding="utf-8")
    assert load_catalogues(tmp_path) == {
        "id": {"menu": "Menu utama", "broadcast.sent": "Terkirim"},
        "en": {"menu": "Main menu"},
    }
    (tmp_path / "id.extra.yaml").write_text("menu: Menu lain\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"already in id\.yaml"):
        load_catalogues(tmp_path)
