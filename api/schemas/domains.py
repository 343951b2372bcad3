"""Knowledge domains and their items."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.schemas.common import Timestamps
from core.agents.spec import LongText, RowId, ShortText


class DomainBase(BaseModel):
    """Fields of a domain."""

    model_config = ConfigDict(extra="forbid")

    name: ShortText
    description: LongText = ""


class DomainCreate(DomainBase):
    """Body of `POST /api/domains`."""


class DomainUpdate(BaseModel):
    """Body of `PATCH /api/domains/{id}`."""

    model_config = ConfigDict(extra="forbid")

    name: ShortText | None = None
    description: LongText | None = None


class DomainPublic(Timestamps):
    """A domain as the API shows it."""

    id: int
    name: str
    description: str


class DomainLink(BaseModel):
    """Body of `POST /api/agents/{id}/domains`: a domain by id, or by name (created if new)."""

    model_config = ConfigDict(extra="forbid")

    domain_id: RowId | None = None
    name: ShortText | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.domain_id is None) == (self.name is None):
            raise ValueError("give exactly one of `domain_id` or `name`")
        return self


class KnowledgeItemBase(BaseModel):
    """Fields of a knowledge item."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300)
    content: str = Field(min_length=1, max_length=50_000)


class KnowledgeItemCreate(KnowledgeItemBase):
    """Body of `POST /api/domains/{id}/knowledge`."""


class KnowledgeItemUpdate(BaseModel):
    """Body of `PATCH /api/domains/{id}/knowledge/{item_id}`."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, min_length=1, max_length=300)
    content: str | None = Field(None, min_length=1, max_length=50_000)


class KnowledgeItemPublic(Timestamps):
    """A knowledge item as the API shows it (the embedding itself is not returned)."""

    id: int
    domain_id: int
    title: str
    content: str
    embedded: bool
