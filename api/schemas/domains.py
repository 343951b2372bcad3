"""Knowledge domains and their items."""

from __future__ import annotations

import json
from typing import Annotated, Any, Final, Self

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from api.schemas.common import Timestamps
from core.agents.spec import LongText, RowId, ShortText
from core.knowledge import KnowledgeType

MAX_IMPORT_ITEMS: Final = 1000
MAX_CONTENT_CHARS: Final = 50_000
MAX_METADATA_CHARS: Final = 10_000
MAX_QUERY_CHARS: Final = 500
MAX_SEARCH_RESULTS: Final = 20


def storable(text: str) -> str:
    """`text` if PostgreSQL can store it: no NUL, no lone surrogate (ValueError otherwise)."""
    if "\x00" in text:
        raise ValueError("text must not contain NUL (\\u0000) characters")
    try:
        text.encode()
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    return text


def _has_words(text: str) -> str:
    if not text.strip():
        raise ValueError("text must not be blank")
    return text


StoredText = Annotated[str, AfterValidator(storable)]
ContentText = Annotated[
    str,
    Field(min_length=1, max_length=MAX_CONTENT_CHARS),
    AfterValidator(storable),
    AfterValidator(_has_words),
]


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

    title: Annotated[StoredText, Field(min_length=1, max_length=300)]
    content: Annotated[StoredText, Field(min_length=1, max_length=MAX_CONTENT_CHARS)]


class KnowledgeItemCreate(KnowledgeItemBase):
    """Body of `POST /api/domains/{id}/knowledge`."""


class KnowledgeItemUpdate(BaseModel):
    """Body of `PATCH /api/domains/{id}/knowledge/{item_id}`."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[StoredText, Field(min_length=1, max_length=300)] | None = None
    content: Annotated[StoredText, Field(min_length=1, max_length=MAX_CONTENT_CHARS)] | None = None


class KnowledgeItemPublic(Timestamps):
    """A knowledge item as the API shows it (the embedding itself is not returned)."""

    id: int
    domain_id: int
    title: str
    content: str
    embedded: bool


class KnowledgeImportItem(BaseModel):
    """One item of a knowledge import: a fact, process or policy; long text is split."""

    model_config = ConfigDict(extra="forbid")

    knowledge_type: KnowledgeType = Field(
        KnowledgeType.FACT, validation_alias=AliasChoices("knowledge_type", "type")
    )
    content: ContentText
    title: Annotated[StoredText, Field(max_length=300)] = ""
    """The item's title (default: `metadata.title`, else the text's first words)."""
    key: Annotated[StoredText, Field(min_length=1, max_length=200)] | None = None
    """The item's name in its source file (kept in its metadata)."""
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("metadata")
    @classmethod
    def _metadata_storable(cls, metadata: dict[str, Any]) -> dict[str, Any]:
        text = json.dumps(metadata, ensure_ascii=False)
        if len(text) > MAX_METADATA_CHARS:
            raise ValueError(f"metadata must be at most {MAX_METADATA_CHARS} characters of JSON")
        storable(text)
        return metadata

    @property
    def resolved_title(self) -> str:
        """The title given, else the metadata's."""
        title = self.title or self.metadata.get("title", "")
        return title[:300] if isinstance(title, str) else ""


class KnowledgeImport(BaseModel):
    """Body of `POST /api/domains/{id}/knowledge` with many items."""

    model_config = ConfigDict(extra="forbid")

    items: list[KnowledgeImportItem] = Field(min_length=1, max_length=MAX_IMPORT_ITEMS)


class KnowledgeProgress(BaseModel):
    """How far a domain's indexing is: items waiting for their embedding, items searchable."""

    pending: int
    indexed: int


class KnowledgeImportResult(BaseModel):
    """What an import stored: new items' ids, pieces already there, the domain's progress."""

    created: list[int]
    skipped: int
    """Pieces whose text the domain held already (left alone: importing again is harmless)."""
    progress: KnowledgeProgress
    indexing: bool
    """Whether the indexer was reached; when not, the items wait for the next import or edit."""


class KnowledgeHit(BaseModel):
    """A knowledge item matching a search, with why it matched."""

    item_id: int
    title: str
    content: str
    knowledge_type: str
    score: float
    """Reciprocal rank fusion of the meaning and shared-words rankings (higher is better)."""
    similarity: float | None
    """Cosine similarity of meaning (null: not among the closest in meaning)."""
    why: str
