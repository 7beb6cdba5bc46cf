"""The WhatsApp Cloud API translation: our messages out as API JSON, webhook JSON in as Inbound events.

Webhook bodies follow the examples of Meta's webhook reference (wamids and ids shortened).
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels.whatsapp_format import (
    BODY_LIMIT,
    BUTTON_TITLE_LIMIT,
    ROW_DESCRIPTION_LIMIT,
    ROW_TITLE_LIMIT,
    TEXT_LIMIT,
    TEXT_REPLY_PREFIX,
    StatusUpdate,
    parse_webhook,
    render,
    to_whatsapp,
)
from bot.text_split import units
from handlers.messages import (
    Button,
    Channel,
    InboundKind,
    Location,
    MediaRef,
    OutEdit,
    OutLocation,
    OutMedia,
    OutText,
)

LIST_LABEL = "Pilih"
HINT = "Untuk berbagi lokasi: tekan 📎 lalu <b>Lokasi</b>."
WAMID = "wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQUZBMDk3NEFCNjc4MTRBNDk4QwA="
FROM = "6281234567890"
WA = Channel.WHATSAPP  # whose handles parsed media are


def out(action: Any) -> list[dict[str, Any]]:
    return render(action, list_button_label=LIST_LABEL, location_hint=HINT)


def buttons(*labels: str) -> tuple[tuple[Button, ...], ...]:
    return tuple((Button(label=label, payload=f"7|choice:{index}"),) for index, label in enumerate(labels))


def interactive_of(messages: list[dict[str, Any]]) -> dict[str, Any]:
    assert messages[-1]["type"] == "interactive"
    return messages[-1]["interactive"]


def rows_of(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [row for message in messages for row in _rows(message)]


def _rows(message: dict[str, Any]) -> list[dict[str, str]]:
    if message["type"] != "interactive" or message["interactive"]["type"] != "list":
        return []
    return [row for section in message["interactive"]["action"]["sections"] for row in section["rows"]]


# --- formatting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("<b>ADU-2026-0042</b> &lt;baru&gt; &amp; &quot;ok&quot;", '*ADU-2026-0042* <baru> & "ok"'),
        ("Status: <b>Diterima</b>, <i>segera</i> <s>batal</s>", "Status: *Diterima*, _segera_ ~batal~"),
        ("Kode <code>ADU-1</code>\n<pre>baris 1\nbaris 2</pre>", "Kode ```ADU-1```\n```baris 1\nbaris 2```"),
        ("<u>garis bawah</u> tetap", "garis bawah tetap"),
        ("<b><i>keduanya</i></b>", "*_keduanya_*"),
        ("<b>Periksa\nlagi</b>", "*Periksa*\n*lagi*"),  # markers do not span lines
        ("<b> Uraian: </b>isi", " *Uraian:* isi"),  # markers hug the text, not the spaces
        (
            '<a href="https://maps.example/?q=1&amp;z=2">Lihat di peta</a>',
            "Lihat di peta: https://maps.example/?q=1&z=2",
        ),
    ],
)
def test_html_becomes_whatsapp_markup(markup: str, expected: str) -> None:
    assert to_whatsapp(markup) == expected


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("<b>ADU</b>-nya", "*ADU*-nya"),  # punctuation is a boundary
        ("jalan<b>rusak</b>", "jalanrusak"),  # a letter before: left plain
        ("<b>rusak</b>parah", "rusakparah"),  # a letter after: left plain
        ("<i>nama_file</i> ada", "nama_file ada"),  # the marker inside the text: left plain
        ("<b>a*b</b>", "a*b"),
        ("<b></b>kosong", "kosong"),
        ("5 &lt; 6 &amp;&amp; 7 &gt; 6", "5 < 6 && 7 > 6"),
    ],
)
def test_markup_that_whatsapp_would_break_stays_plain(markup: str, expected: str) -> None:
    assert to_whatsapp(markup) == expected


def test_a_text_is_a_text_message_with_escapes_and_bold() -> None:
    messages = out(OutText(text="Tiket <b>ADU-7</b> dibuat. Jalan &amp; trotoar &lt;rusak&gt;."))
    assert messages == [
        {
            "type": "text",
            "text": {"body": "Tiket *ADU-7* dibuat. Jalan & trotoar <rusak>.", "preview_url": False},
        }
    ]


def test_a_long_text_is_split_at_4096() -> None:
    paragraph = "<b>Uraian</b> " + "kata " * 150
    text = "\n\n".join([paragraph] * 12)  # about 9000 characters
    messages = out(OutText(text=text))
    assert len(messages) == 3
    bodies = [message["text"]["body"] for message in messages]
    assert all(units(body) <= TEXT_LIMIT for body in bodies)
    assert all(body.startswith("*Uraian* kata") for body in bodies)
    assert sum(body.count("kata") for body in bodies) == 150 * 12


def test_an_empty_text_sends_nothing() -> None:
    assert out(OutText(text="")) == []


# --- choices ----------------------------------------------------------------------------------


def test_three_short_choices_are_reply_buttons() -> None:
    action = OutText(
        text="Apakah masalahnya <b>sudah beres</b>?",
        buttons=(
            (
                Button(label="✅ Sudah beres", payload="sv|3|fixed|y"),
                Button(label="❌ Belum beres", payload="sv|3|fixed|n"),
            ),
            (Button(label="🔕 Berhenti survei", payload="sv|3|stop|-"),),
        ),
    )
    assert out(action) == [
        {
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": {"text": "Apakah masalahnya *sudah beres*?"},
                "action": {
                    "buttons": [
                        {"type": "reply", "reply": {"id": "sv|3|fixed|y", "title": "✅ Sudah beres"}},
                        {"type": "reply", "reply": {"id": "sv|3|fixed|n", "title": "❌ Belum beres"}},
                        {"type": "reply", "reply": {"id": "sv|3|stop|-", "title": "🔕 Berhenti survei"}},
                    ]
                },
            },
        }
    ]


def test_four_choices_are_a_list_in_button_order() -> None:
    action = OutText(
        text="Silakan pilih:",
        buttons=(
            (
                Button(label="📝 Buat pengaduan", payload="m|new"),
                Button(label="📋 Tiket saya / cek status", payload="m|tickets"),
            ),
            (
                Button(label="🌐 Bahasa / Language", payload="m|language"),
                Button(label="❓ Bantuan", payload="m|help"),
            ),
        ),
    )
    assert out(action) == [
        {
            "type": "interactive",
            "interactive": {
                "type": "list",
                "body": {"text": "Silakan pilih:"},
                "action": {
                    "button": "Pilih",
                    "sections": [
                        {
                            "rows": [
                                {"id": "m|new", "title": "📝 Buat pengaduan"},
                                {
                                    "id": "m|tickets",
                                    "title": "📋 Tiket saya / cek…",
                                    "description": "📋 Tiket saya / cek status",
                                },
                                {"id": "m|language", "title": "🌐 Bahasa / Language"},
                                {"id": "m|help", "title": "❓ Bantuan"},
                            ]
                        }
                    ],
                },
            },
        }
    ]


def test_a_label_too_long_for_a_button_makes_a_list_with_the_full_label() -> None:
    action = OutText(
        text="Kategori: <b>Jalan rusak</b>. Benar?",
        buttons=(
            (Button(label="✅ Ya, benar", payload="4|cat:jalan"),),
            (Button(label="↩️ Bukan, pilih kategori lain", payload="4|cat_other"),),
        ),
    )
    rows = rows_of(out(action))
    assert rows == [
        {"id": "4|cat:jalan", "title": "✅ Ya, benar"},
        {"id": "4|cat_other", "title": "↩️ Bukan, pilih…", "description": "↩️ Bukan, pilih kategori lain"},
    ]


def test_trailing_punctuation_is_dropped_only_to_fit_a_button() -> None:
    action = OutText(
        text="Lanjut?", buttons=buttons("Ya!", "Kirim laporannya sekarang.")
    )  # 26 → 25: still a list
    assert interactive_of(out(action))["type"] == "list"
    action = OutText(text="Lanjut?", buttons=buttons("Ya!", "Kirim sekarang juga!!"))  # 21 → 19
    titles = [b["reply"]["title"] for b in interactive_of(out(action))["action"]["buttons"]]
    assert titles == ["Ya!", "Kirim sekarang juga"]


def test_similar_long_labels_stay_distinct() -> None:
    north, south = "Jalan rusak di Kecamatan Utara", "Jalan rusak di Kecamatan Selatan"
    assert len(north) == 30
    rows = rows_of(out(OutText(text="Di mana?", buttons=buttons(north, south))))
    assert [row["title"] for row in rows] == ["Jalan rusak di… Utara", "Jalan rusak di… Selatan"]
    assert [row["description"] for row in rows] == [north, south]


def test_labels_differing_in_the_middle_keep_the_middle() -> None:
    labels = ("Sampah di Jalan Merdeka belum diangkut", "Sampah di Jalan Sudirman belum diangkut")
    rows = rows_of(out(OutText(text="Yang mana?", buttons=buttons(*labels))))
    assert [row["title"] for row in rows] == ["Sampah di… Merdeka …", "Sampah di… Sudirman …"]


def test_identical_labels_are_numbered() -> None:
    rows = rows_of(out(OutText(text="Yang mana?", buttons=buttons("Lewati", "Lewati"))))
    assert [row["title"] for row in rows] == ["1. Lewati", "2. Lewati"]
    assert [row["id"] for row in rows] == ["7|choice:0", "7|choice:1"]


def test_a_repeated_payload_keeps_its_first_button() -> None:
    action = OutText(
        text="?", buttons=((Button(label="Ya", payload="1|y"), Button(label="Ya juga", payload="1|y")),)
    )
    assert interactive_of(out(action))["action"]["buttons"] == [
        {"type": "reply", "reply": {"id": "1|y", "title": "Ya"}}
    ]


def test_more_than_ten_choices_are_several_lists() -> None:
    labels = [f"Kecamatan {name}" for name in "Ab Bc Cd De Ef Fg Gh Hi Ij Jk Kl Lm".split()]
    messages = out(OutText(text="Pilih kecamatan:", buttons=buttons(*labels)))
    assert [len(_rows(message)) for message in messages] == [10, 2]
    assert [m["interactive"]["body"]["text"] for m in messages] == ["Pilih kecamatan:", "…"]
    assert [m["interactive"]["footer"]["text"] for m in messages] == ["1/2", "2/2"]
    assert [row["title"] for row in rows_of(messages)] == labels


def test_a_long_list_button_label_is_shortened() -> None:
    messages = render(
        OutText(text="?", buttons=buttons(*"abcd")),
        list_button_label="Lihat semua pilihan yang ada",
        location_hint="",
    )
    assert interactive_of(messages)["action"]["button"] == "Lihat semua pilihan…"


def test_a_text_over_1024_with_buttons_sends_text_then_an_interactive_body() -> None:
    story = " ".join(f"kalimat{index}." for index in range(300))  # about 3000 characters
    text = f"<b>Periksa pengaduan Anda</b>\n{story}\n\nKirim sekarang?"
    messages = out(OutText(text=text, buttons=buttons("✅ Kirim", "✏️ Ubah", "✖️ Batal")))
    assert [message["type"] for message in messages] == ["text", "interactive"]
    head = messages[0]["text"]["body"]
    body = interactive_of(messages)["body"]["text"]
    assert units(head) <= TEXT_LIMIT
    assert units(body) <= BODY_LIMIT
    assert head.startswith("*Periksa pengaduan Anda*\nkalimat0.")
    assert body.endswith("\n\nKirim sekarang?")
    assert re.findall(r"kalimat\d+", head + " " + body) == [f"kalimat{index}" for index in range(300)]


def test_a_very_long_text_with_buttons_keeps_every_word() -> None:
    words = [f"w{index}" for index in range(2500)]  # about 12000 characters, no line breaks
    messages = out(OutText(text=" ".join(words), buttons=buttons("A", "B")))
    texts = [m["text"]["body"] for m in messages[:-1]] + [interactive_of(messages)["body"]["text"]]
    assert all(units(text) <= TEXT_LIMIT for text in texts)
    assert units(texts[-1]) <= BODY_LIMIT
    assert " ".join(texts).split() == words


def test_bold_across_the_body_cut_stays_balanced() -> None:
    text = "<b>" + "tebal " * 400 + "</b>"  # 2400 characters, all bold
    messages = out(OutText(text=text, buttons=buttons("Ya")))
    for piece in [messages[0]["text"]["body"], interactive_of(messages)["body"]["text"]]:
        assert piece.startswith("*tebal") and piece.endswith("tebal*")


def test_edit_is_sent_as_a_new_message_with_its_buttons() -> None:
    action = OutEdit(
        text="<b>ADU-9</b> · Diterima", buttons=buttons("✅ Terima", "✖️ Tolak"), message_id=WAMID
    )
    messages = out(action)
    assert interactive_of(messages)["body"]["text"] == "*ADU-9* · Diterima"
    assert "context" not in messages[0]


def test_reply_to_quotes_the_message_on_the_first_part() -> None:
    messages = out(OutText(text="x " * 3000, reply_to=WAMID))
    assert messages[0]["context"] == {"message_id": WAMID}
    assert "context" not in messages[1]
    assert "context" not in out(OutText(text="Balasan", reply_to="12345"))[0]  # a Telegram id


# --- location requests ------------------------------------------------------------------------


def test_request_location_is_a_text_with_the_hint() -> None:
    action = OutText(text="📍 Di mana lokasinya?", request_location="📍 Kirim lokasi saya")
    assert out(action) == [
        {
            "type": "text",
            "text": {
                "body": "📍 Di mana lokasinya?\n\nUntuk berbagi lokasi: tekan 📎 lalu *Lokasi*.",
                "preview_url": False,
            },
        }
    ]


def test_skip_label_is_a_button_whose_press_arrives_as_the_typed_label() -> None:
    action = OutText(
        text="📍 Di mana lokasinya?", request_location="📍 Kirim lokasi saya", skip_label="Lewati"
    )
    interactive = interactive_of(out(action))
    assert interactive == {
        "type": "button",
        "body": {"text": "📍 Di mana lokasinya?\n\nUntuk berbagi lokasi: tekan 📎 lalu *Lokasi*."},
        "action": {
            "buttons": [{"type": "reply", "reply": {"id": TEXT_REPLY_PREFIX + "Lewati", "title": "Lewati"}}]
        },
    }
    # Pressed, it is what Telegram's keyboard button sends: the label as a typed text.
    press = webhook(
        {
            "type": "interactive",
            "interactive": {"type": "button_reply", "button_reply": {"id": "text:Lewati", "title": "Lewati"}},
        }
    )
    (inbound,), _ = parse_webhook(press)
    assert (inbound.kind, inbound.text, inbound.payload) == (InboundKind.TEXT, "Lewati", None)


def test_remove_keyboard_needs_nothing_more() -> None:
    assert out(OutText(text="📍 Lokasi diterima.", remove_keyboard=True)) == out(
        OutText(text="📍 Lokasi diterima.")
    )


# --- media and locations ----------------------------------------------------------------------


def test_a_photo_by_media_id_with_caption() -> None:
    action = OutMedia(media=MediaRef(kind="photo", file_id="1013859600285441"), caption="Foto <b>ADU-3</b>")
    assert out(action) == [{"type": "image", "image": {"id": "1013859600285441", "caption": "Foto *ADU-3*"}}]


def test_media_by_link_and_audio_caption_as_a_text() -> None:
    document = OutMedia(media=MediaRef(kind="document", file_id="https://example.org/rekap.pdf"))
    assert out(document) == [{"type": "document", "document": {"link": "https://example.org/rekap.pdf"}}]
    voice = OutMedia(media=MediaRef(kind="voice", file_id="55512"), caption="Pesan suara")
    assert out(voice) == [
        {"type": "audio", "audio": {"id": "55512"}},
        {"type": "text", "text": {"body": "Pesan suara", "preview_url": False}},
    ]


def test_a_long_caption_continues_as_text() -> None:
    action = OutMedia(media=MediaRef(kind="photo", file_id="1"), caption="kata " * 400)
    messages = out(action)
    assert [message["type"] for message in messages] == ["image", "text"]
    assert units(messages[0]["image"]["caption"]) <= 1024


BELL = ((Button(label="🔕 Stop pengumuman", payload="an|off"),),)


def test_a_photo_with_buttons_is_one_message_the_photo_heading_them_the_caption_their_body() -> None:
    action = OutMedia(
        media=MediaRef(kind="photo", file_id="1013859600285441"),
        caption="Kerja bakti <b>Minggu</b>",
        buttons=BELL,
    )
    assert out(action) == [
        {
            "type": "interactive",
            "interactive": {
                "type": "button",
                "header": {"type": "image", "image": {"id": "1013859600285441"}},
                "body": {"text": "Kerja bakti *Minggu*"},
                "action": {
                    "buttons": [{"type": "reply", "reply": {"id": "an|off", "title": "🔕 Stop pengumuman"}}]
                },
            },
        }
    ]
    document = OutMedia(
        media=MediaRef(kind="document", file_id="https://example.org/rekap.pdf"),
        caption="Rekap",
        buttons=BELL,
    )
    [message] = out(document)
    assert message["interactive"]["header"] == {
        "type": "document",
        "document": {"link": "https://example.org/rekap.pdf"},
    }


def test_media_with_buttons_that_cannot_head_them_goes_first_and_the_buttons_follow() -> None:
    photo = MediaRef(kind="photo", file_id="77")
    bare = {"type": "image", "image": {"id": "77"}}
    # no caption: a body is required, so the photo goes alone and the button under "…"
    messages = out(OutMedia(media=photo, buttons=BELL))
    assert [m["type"] for m in messages] == ["image", "interactive"]
    assert messages[0] == bare and messages[1]["interactive"]["body"] == {"text": "…"}
    assert "header" not in messages[1]["interactive"]
    # more choices than reply buttons take: a list, which takes no media header
    many = (tuple(Button(label=f"Pilihan {n}", payload=f"c|{n}") for n in range(4)),)
    messages = out(OutMedia(media=photo, caption="Pilih satu", buttons=many))
    assert messages[0] == bare
    assert messages[1]["interactive"]["type"] == "list" and "header" not in messages[1]["interactive"]
    assert messages[1]["interactive"]["body"] == {"text": "Pilih satu"}
    # a caption longer than one body: the photo, the caption's start as text, its end above the button
    messages = out(OutMedia(media=photo, caption="kata " * 400, buttons=BELL))
    assert [m["type"] for m in messages] == ["image", "text", "interactive"]
    assert messages[0] == bare and units(messages[2]["interactive"]["body"]["text"]) <= 1024
    # audio heads nothing: the voice note, then its caption with the button
    messages = out(
        OutMedia(media=MediaRef(kind="voice", file_id="55512"), caption="Pesan suara", buttons=BELL)
    )
    assert messages[0] == {"type": "audio", "audio": {"id": "55512"}}
    assert messages[1]["interactive"]["body"] == {"text": "Pesan suara"}


def test_another_platforms_file_id_cannot_be_sent() -> None:
    with pytest.raises(ValueError, match="not a WhatsApp media id"):
        out(OutMedia(media=MediaRef(kind="photo", file_id="AgACAgIAAxkBAAIBZ2X")))


def test_a_location() -> None:
    action = OutLocation(location=Location(latitude=-6.2, longitude=106.816666))
    assert out(action) == [{"type": "location", "location": {"latitude": -6.2, "longitude": 106.816666}}]


# --- inbound ----------------------------------------------------------------------------------


def webhook(*messages: dict[str, Any], statuses: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A messages webhook as Meta sends it, around the given messages (id, from and timestamp added)."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
    }
    if messages:
        value["contacts"] = [{"profile": {"name": "Siti Aminah"}, "wa_id": FROM}]
        value["messages"] = [
            {"from": FROM, "id": f"{WAMID}{index}", "timestamp": "1749416383", **message}
            for index, message in enumerate(messages)
        ]
    if statuses is not None:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}],
    }


def test_a_text_message() -> None:
    (inbound,), statuses = parse_webhook(
        webhook({"type": "text", "text": {"body": "Jalan berlubang di depan SD"}})
    )
    assert statuses == []
    assert inbound.channel == Channel.WHATSAPP
    assert (inbound.event_id, inbound.message_id) == (f"{WAMID}0", f"{WAMID}0")
    assert (inbound.chat_id, inbound.user_id, inbound.display_name) == (FROM, FROM, "Siti Aminah")
    assert (inbound.kind, inbound.text, inbound.is_private) == (
        InboundKind.TEXT,
        "Jalan berlubang di depan SD",
        True,
    )


def test_a_command_with_arguments() -> None:
    (inbound,), _ = parse_webhook(webhook({"type": "text", "text": {"body": "/status ADU-2026-0042"}}))
    assert (inbound.kind, inbound.command, inbound.command_args) == (
        InboundKind.COMMAND,
        "status",
        "ADU-2026-0042",
    )


def test_a_reply_carries_the_quoted_message() -> None:
    message = {
        "type": "text",
        "text": {"body": "Sudah"},
        "context": {"from": "15550783881", "id": "wamid.QUOTED"},
    }
    (inbound,), _ = parse_webhook(webhook(message))
    assert inbound.reply_to_message_id == "wamid.QUOTED"


def test_a_reply_button_press() -> None:
    message = {
        "type": "interactive",
        "context": {"from": "15550783881", "id": "wamid.BUTTONS"},
        "interactive": {
            "type": "button_reply",
            "button_reply": {"id": "sv|3|fixed|y", "title": "✅ Sudah beres"},
        },
    }
    (inbound,), _ = parse_webhook(webhook(message))
    assert (inbound.kind, inbound.payload, inbound.text) == (InboundKind.BUTTON, "sv|3|fixed|y", None)
    assert inbound.reply_to_message_id is None  # like a Telegram button press


def test_a_list_row_press() -> None:
    message = {
        "type": "interactive",
        "interactive": {
            "type": "list_reply",
            "list_reply": {
                "id": "m|tickets",
                "title": "📋 Tiket saya / cek…",
                "description": "📋 Tiket saya / cek status",
            },
        },
    }
    (inbound,), _ = parse_webhook(webhook(message))
    assert (inbound.kind, inbound.payload) == (InboundKind.BUTTON, "m|tickets")


def test_a_template_quick_reply() -> None:
    message = {"type": "button", "button": {"text": "Sudah beres", "payload": "sv|3|fixed|y"}}
    (inbound,), _ = parse_webhook(webhook(message))
    assert (inbound.kind, inbound.payload) == (InboundKind.BUTTON, "sv|3|fixed|y")


def test_a_shared_location() -> None:
    message = {
        "type": "location",
        "location": {
            "latitude": -6.917464,
            "longitude": 107.619123,
            "name": "Alun-alun",
            "address": "Bandung",
        },
    }
    (inbound,), _ = parse_webhook(webhook(message))
    assert inbound.kind == InboundKind.LOCATION
    assert inbound.location == Location(latitude=-6.917464, longitude=107.619123)


def test_a_photo_with_caption() -> None:
    message = {
        "type": "image",
        "image": {
            "caption": "Lampu mati",
            "mime_type": "image/jpeg",
            "sha256": "c2hhMjU2",
            "id": "1479537139650973",
        },
    }
    (inbound,), _ = parse_webhook(webhook(message))
    assert inbound.kind == InboundKind.PHOTO
    assert inbound.media == (
        MediaRef(kind="photo", file_id="1479537139650973", unique_id="c2hhMjU2", channel=WA),
    )
    assert inbound.text == "Lampu mati"


@pytest.mark.parametrize("voice", [True, False])
def test_audio_is_a_voice_message(voice: bool) -> None:
    message = {
        "type": "audio",
        "audio": {"mime_type": "audio/ogg; codecs=opus", "sha256": "aGFzaA==", "id": "42", "voice": voice},
    }
    (inbound,), _ = parse_webhook(webhook(message))
    assert inbound.kind == InboundKind.VOICE
    assert inbound.media == (MediaRef(kind="voice", file_id="42", unique_id="aGFzaA==", channel=WA),)


def test_a_document_with_caption() -> None:
    message = {
        "type": "document",
        "document": {
            "caption": "Surat",
            "filename": "surat.pdf",
            "mime_type": "application/pdf",
            "sha256": "x",
            "id": "77",
        },
    }
    (inbound,), _ = parse_webhook(webhook(message))
    assert (inbound.kind, inbound.text) == (InboundKind.DOCUMENT, "Surat")
    assert inbound.media == (MediaRef(kind="document", file_id="77", unique_id="x", channel=WA),)


def test_a_video_is_other_with_its_reference() -> None:
    message = {"type": "video", "video": {"mime_type": "video/mp4", "sha256": "v", "id": "88"}}
    (inbound,), _ = parse_webhook(webhook(message))
    assert inbound.kind == InboundKind.OTHER
    assert inbound.media == (MediaRef(kind="video", file_id="88", unique_id="v", channel=WA),)


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        (
            {
                "type": "sticker",
                "sticker": {"mime_type": "image/webp", "sha256": "s", "id": "9", "animated": False},
            },
            InboundKind.STICKER,
        ),
        (
            {
                "type": "contacts",
                "contacts": [{"name": {"formatted_name": "Budi"}, "phones": [{"phone": "+62 812"}]}],
            },
            InboundKind.CONTACT,
        ),
        (
            {
                "type": "unsupported",
                "errors": [
                    {"code": 131051, "title": "Message type unknown", "message": "Message type unknown"}
                ],
            },
            InboundKind.OTHER,
        ),
        (
            {
                "type": "unknown",
                "errors": [{"code": 131051, "details": "Message type is not currently supported"}],
            },
            InboundKind.OTHER,
        ),
        (
            {"type": "system", "system": {"body": "NAME changed from A to B", "type": "user_changed_number"}},
            InboundKind.OTHER,
        ),
        ({"type": "order", "order": {"catalog_id": "1", "product_items": []}}, InboundKind.OTHER),
        (
            {
                "type": "interactive",
                "interactive": {"type": "nfm_reply", "nfm_reply": {"response_json": "{}"}},
            },
            InboundKind.OTHER,
        ),
    ],
)
def test_other_message_types(message: dict[str, Any], kind: InboundKind) -> None:
    (inbound,), _ = parse_webhook(webhook(message))
    assert inbound.kind == kind


def test_several_messages_in_one_body_keep_their_order() -> None:
    body = webhook({"type": "text", "text": {"body": "satu"}}, {"type": "text", "text": {"body": "dua"}})
    inbound, _ = parse_webhook(body)
    assert [event.text for event in inbound] == ["satu", "dua"]


def test_a_reaction_is_ignored_not_answered() -> None:
    reaction = {"type": "reaction", "reaction": {"message_id": "wamid.OURS", "emoji": "👍"}}
    text = {"type": "text", "text": {"body": "makasih"}}
    inbound, _ = parse_webhook(webhook(reaction, text))
    assert [event.text for event in inbound] == ["makasih"]  # the 👍 gets no "cannot use this" reply


def test_a_message_in_a_whatsapp_group_is_ignored() -> None:
    body = webhook({"type": "text", "text": {"body": "halo grup"}, "group_id": "Y2FwaV9ncm91cDpFWEFNUExF"})
    assert parse_webhook(body) == ([], [])


def test_a_failed_status_with_its_error() -> None:
    statuses: list[dict[str, Any]] = [
        {
            "id": "wamid.SENT1",
            "status": "failed",
            "timestamp": "1750263773",
            "recipient_id": FROM,
            "errors": [
                {
                    "code": 131047,
                    "title": "Re-engagement message",
                    "message": "Re-engagement message",
                    "error_data": {
                        "details": "Message failed to send because more than 24 hours have passed"
                    },
                    "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
                }
            ],
        },
        {
            "id": "wamid.SENT2",
            "status": "read",
            "timestamp": "1750263800",
            "recipient_id": FROM,
            "conversation": {"id": "c1", "origin": {"type": "service"}},
            "pricing": {
                "billable": False,
                "pricing_model": "PMP",
                "category": "service",
                "type": "free_customer_service",
            },
        },
        {"id": "wamid.SENT3", "status": "played", "timestamp": "1750263900", "recipient_id": FROM},
    ]
    inbound, updates = parse_webhook(webhook(statuses=statuses))
    assert inbound == []
    assert updates == [
        StatusUpdate("wamid.SENT1", "failed", FROM, 1750263773, "131047 Re-engagement message"),
        StatusUpdate("wamid.SENT2", "read", FROM, 1750263800, None),
    ]


def test_malformed_pieces_are_skipped() -> None:
    body = webhook(
        {"type": "text", "text": {"body": "baik"}},
        {"type": "text"},  # no text object
        {"type": "image", "image": {"caption": "tanpa id"}},
        {"type": "location", "location": {"latitude": 123.0, "longitude": 5}},  # out of range
        {"type": "location", "location": {"latitude": "utara", "longitude": 5}},
        {"type": "interactive", "interactive": {"type": "button_reply", "button_reply": {"title": "no id"}}},
    )
    value = body["entry"][0]["changes"][0]["value"]
    value["messages"].append({"type": "text", "text": {"body": "tanpa pengirim"}, "id": "wamid.X"})
    value["messages"].append("not an object")
    value["statuses"] = [
        {"id": "wamid.S", "status": "sent", "recipient_id": FROM},
        {"status": "delivered"},
        7,
    ]
    body["entry"].append("garbage")
    body["entry"].append({"changes": [{"value": None}, {"field": "account_update", "value": {}}, "x"]})
    inbound, statuses = parse_webhook(body)
    assert [event.text for event in inbound] == ["baik"]
    assert statuses == []


@pytest.mark.parametrize(
    "body", [None, [], "text", {"object": "page", "entry": []}, {"object": "whatsapp_business_account"}]
)
def test_bodies_that_are_not_whatsapp_webhooks(body: Any) -> None:
    assert parse_webhook(body) == ([], [])


def test_parsing_leaves_the_body_alone() -> None:
    body = webhook({"type": "text", "text": {"body": "halo"}})
    before = copy.deepcopy(body)
    parse_webhook(body)
    assert body == before


# --- properties -------------------------------------------------------------------------------

label_text = (
    st.lists(st.sampled_from([*"abcdeXYZ .,!?-", "✅", "📋", "↩️", "👨‍👩‍👧"]), min_size=1, max_size=40)
    .map("".join)
    .filter(lambda text: text.strip())
)


@settings(max_examples=200, deadline=None)
@given(st.lists(label_text, min_size=1, max_size=14))
def test_titles_always_fit_and_differ(labels: list[str]) -> None:
    messages = out(OutText(text="Pilih", buttons=buttons(*labels)))
    rows = rows_of(messages)
    if rows:
        titles = [row["title"] for row in rows]
        assert all(0 < units(title) <= ROW_TITLE_LIMIT for title in titles)
        assert all(units(row.get("description", "")) <= ROW_DESCRIPTION_LIMIT for row in rows)
        assert len(rows) == len(labels)
    else:
        reply = [b["reply"]["title"] for b in interactive_of(messages)["action"]["buttons"]]
        assert all(0 < units(title) <= BUTTON_TITLE_LIMIT for title in reply)
        titles = reply
    assert len({title.casefold() for title in titles}) == len(titles)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(["kata", "panjang", "<b>", "</b>", "<i>", "</i>", "&amp;", "\n", "\n\n", " ", "😀"]),
        max_size=1500,
    )
)
def test_every_piece_fits(parts: list[str]) -> None:
    text = " ".join(parts)
    messages = out(OutText(text=text, buttons=buttons("Ya", "Tidak")))
    bodies = [m["text"]["body"] for m in messages[:-1]]
    assert all(units(body) <= TEXT_LIMIT for body in bodies)
    assert 0 < units(interactive_of(messages)["body"]["text"]) <= BODY_LIMIT
