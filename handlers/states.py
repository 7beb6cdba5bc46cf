"""The named states of a conversation; the inputs each accepts are in handlers/router.py."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    IDLE = "idle"  # main menu; free text starts a complaint
    CATEGORY = "intake.category"  # pick a category, or describe the problem
    CATEGORY_CONFIRM = "intake.category_confirm"  # "it looks like X — right?"
    DESCRIPTION = "intake.description"
    LOCATION = "intake.location"  # shared location, typed address, or skip
    PHOTOS = "intake.photos"  # up to N photos, or skip
    IDENTITY = "intake.identity"  # public, anonymous, confidential
    SUMMARY = "intake.summary"  # confirm, edit or cancel
    EDIT = "intake.edit"  # which part to change
    STATUS_REF = "status.ref"  # waiting for a ticket reference


INTAKE_STATES = frozenset(
    {
        State.CATEGORY,
        State.CATEGORY_CONFIRM,
        State.DESCRIPTION,
        State.LOCATION,
        State.PHOTOS,
        State.IDENTITY,
        State.SUMMARY,
        State.EDIT,
    }
)
