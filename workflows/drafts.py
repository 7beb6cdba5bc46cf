"""A complaint being written: what the intake conversation has collected so far."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from models import Identity


class DraftPhoto(BaseModel):
    file_id: str
    unique_id: str | None = None


class Draft(BaseModel):
    """Stored in the conversation's data under "draft" until the citizen confirms."""

    category: str | None = None
    description: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    address: str | None = None
    location_skipped: bool = False
    area: str | None = None  # the kecamatan/kelurahan, named in the address or picked
    area_asked: bool = False  # the citizen was asked to pick one (and may not know)
    photos: list[DraftPhoto] = Field(default_factory=list)
    photos_done: bool = False
    identity: Identity | None = None

    @classmethod
    def of(cls, data: dict[str, Any]) -> Draft:
        return cls.model_validate(data.get("draft") or {})

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @property
    def has_place(self) -> bool:
        """A shared point or a typed address."""
        return self.latitude is not None or bool(self.address)

    @property
    def has_location(self) -> bool:
        """The location step is answered: a place, or skipped."""
        return self.has_place or self.location_skipped
