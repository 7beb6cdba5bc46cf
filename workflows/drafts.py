"""A complaint being written: what the intake conversation has collected so far."""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field

from models import Identity

AttachmentKind = Literal["photo", "voice", "document"]
ATTACHMENT_KINDS: tuple[AttachmentKind, ...] = ("photo", "voice", "document")


def attachment_kind(value: str) -> AttachmentKind:
    """A kind read from a message or a stored attachment as one we keep (a stray one as a document)."""
    for kind in ATTACHMENT_KINDS:
        if value == kind:
            return kind
    return "document"


class DraftAttachment(BaseModel):
    """A photo, voice note or document the citizen sent: the platform's handle on the file."""

    kind: AttachmentKind = "photo"  # drafts stored before voice notes and documents hold photos only
    file_id: str
    unique_id: str | None = None


class Draft(BaseModel):
    """Stored in the conversation's data under "draft" until the citizen confirms."""

    category: str | None = None
    description: str | None = None
    # the voice note (its file_id) the description stands for: the description is then only its
    # placeholder ("🎤 (voice message)"), which typed words replace
    spoken: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    address: str | None = None
    location_skipped: bool = False
    area: str | None = None  # the kecamatan/kelurahan, named in the address or picked
    area_asked: bool = False  # the citizen was asked to pick one (and may not know)
    # in the order sent; drafts stored by earlier versions call them "photos" (and "photos_done")
    attachments: list[DraftAttachment] = Field(
        default_factory=list, validation_alias=AliasChoices("attachments", "photos")
    )
    attachments_done: bool = Field(
        default=False, validation_alias=AliasChoices("attachments_done", "photos_done")
    )
    identity: Identity | None = None

    @classmethod
    def of(cls, data: dict[str, Any]) -> Draft:
        return cls.model_validate(data.get("draft") or {})

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def count(self, kind: AttachmentKind) -> int:
        return sum(1 for a in self.attachments if a.kind == kind)

    def counts(self) -> Counter[str]:
        """How many of each kind: {"photo": 2, "voice": 1}."""
        return Counter(a.kind for a in self.attachments)

    @property
    def has_place(self) -> bool:
        """A shared point or a typed address."""
        return self.latitude is not None or bool(self.address)

    @property
    def has_location(self) -> bool:
        """The location step is answered: a place, or skipped."""
        return self.has_place or self.location_skipped
