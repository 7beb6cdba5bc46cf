"""The named states of a conversation; the inputs each accepts are in handlers/router.py."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    IDLE = "idle"  # main menu; free text starts a complaint
    CATEGORY = "intake.category"  # pick a category, or describe the problem
    CATEGORY_CONFIRM = "intake.category_confirm"  # "it looks like X — right?"
    DESCRIPTION = "intake.description"
    LOCATION = "intake.location"  # shared location, typed address, or skip
    AREA = "intake.area"  # a typed address named no area: pick the kecamatan, or "don't know"
    PHOTOS = "intake.photos"  # up to N photos, or skip
    IDENTITY = "intake.identity"  # public, anonymous, confidential
    SUMMARY = "intake.summary"  # confirm, edit or cancel
    EDIT = "intake.edit"  # which part to change
    STATUS_REF = "status.ref"  # waiting for a ticket reference
    ANSWER = "ticket.answer"  # the citizen writes to the unit about one of their tickets
    ME_TOO = "intake.me_too"  # an open ticket like this exists: join it, or file a new one
    OFFICER_NOTE = "officer.note"  # an officer writes the question, reason or resolution note
    OFFICER_UNIT = "officer.unit"  # an officer picks the unit to transfer to
    OFFICER_PROOF = "officer.proof"  # an officer sends the photo that proves the resolution
    SURVEY_COMMENT = "survey.comment"  # the survey's comment: what is still wrong, or a suggestion
    # an admin composing an announcement (handlers/broadcast.py)
    BROADCAST_TEXT_ID = "broadcast.text_id"  # the Indonesian text
    BROADCAST_TEXT_EN = "broadcast.text_en"  # the English text, or "same for everyone"
    BROADCAST_PHOTO = "broadcast.photo"  # an optional photo, or skip
    BROADCAST_SEGMENT = "broadcast.segment"  # who receives it: everyone, or a kind of segment
    BROADCAST_SEGMENT_VALUE = "broadcast.segment_value"  # which channel, language, area, category, unit
    BROADCAST_TIME = "broadcast.time"  # now, or a typed local time
    BROADCAST_PREVIEW = "broadcast.preview"  # as citizens will see it, the count; send or cancel


INTAKE_STATES = frozenset(
    {
        State.CATEGORY,
        State.CATEGORY_CONFIRM,
        State.DESCRIPTION,
        State.LOCATION,
        State.AREA,
        State.PHOTOS,
        State.IDENTITY,
        State.SUMMARY,
        State.EDIT,
        State.ME_TOO,
    }
)

OFFICER_STATES = frozenset({State.OFFICER_NOTE, State.OFFICER_UNIT, State.OFFICER_PROOF})

BROADCAST_STATES = frozenset(
    {
        State.BROADCAST_TEXT_ID,
        State.BROADCAST_TEXT_EN,
        State.BROADCAST_PHOTO,
        State.BROADCAST_SEGMENT,
        State.BROADCAST_SEGMENT_VALUE,
        State.BROADCAST_TIME,
        State.BROADCAST_PREVIEW,
    }
)
