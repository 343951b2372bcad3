"""Documents an admin uploads as domain knowledge, read into text: plain text, Markdown and PDF.

The text goes to `KnowledgeBase.add_knowledge`, which splits it. A document's kind is its
declared media type, or its file name's extension when the client declared none (curl's `-F
file=@handbook.md` sends `application/octet-stream`).
"""

from __future__ import annotations

import io
import logging
from pathlib import PurePath
from typing import Final

logger = logging.getLogger(__name__)

PLAIN: Final = "text/plain"
MARKDOWN: Final = "text/markdown"
PDF: Final = "application/pdf"
ACCEPTED_TYPES: Final = (PLAIN, MARKDOWN, PDF)
# Other names clients give the same kinds.
_ALIASES: Final = {"text/x-markdown": MARKDOWN, "application/x-pdf": PDF}
_UNDECLARED: Final = frozenset({"", "application/octet-stream", "binary/octet-stream"})
EXTENSIONS: Final = {".txt": PLAIN, ".text": PLAIN, ".md": MARKDOWN, ".markdown": MARKDOWN}
EXTENSIONS_WITH_PDF: Final = {**EXTENSIONS, ".pdf": PDF}


class UnsupportedDocumentError(ValueError):
    """The document is of a kind that cannot be read (an image, a spreadsheet)."""


class UnreadableDocumentError(ValueError):
    """The document is of an accepted kind but holds no text that can be read."""


def document_type(declared: str | None, filename: str | None) -> str:
    """The accepted media type of an upload; UnsupportedDocumentError when it has none."""
    media = (declared or "").split(";")[0].strip().lower()
    media = _ALIASES.get(media, media)
    if media in ACCEPTED_TYPES:
        return media
    if media in _UNDECLARED and filename:
        by_name = EXTENSIONS_WITH_PDF.get(PurePath(filename).suffix.lower())
        if by_name is not None:
            return by_name
    shown = media or "no type"
    raise UnsupportedDocumentError(
        f"{shown} is not a document this API reads; send {', '.join(ACCEPTED_TYPES)}"
    )


def document_text(data: bytes, media_type: str) -> str:
    """The text of a document of `media_type` (one of ACCEPTED_TYPES); UnreadableDocumentError
    when there is none. PDF parsing is CPU work: call this off the event loop."""
    text = _pdf_text(data) if media_type == PDF else _plain_text(data)
    if not text.strip():
        raise UnreadableDocumentError("the document holds no text")
    return text


def _plain_text(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableDocumentError(
            f"the document is not UTF-8 text (byte {exc.start} cannot be read)"
        ) from None
    if "\x00" in text:
        raise UnreadableDocumentError("the document holds binary data (NUL bytes), not text")
    return text


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableDocumentError("the PDF is encrypted with a password")
        pages = [page.extract_text() or "" for page in reader.pages]
    except UnreadableDocumentError:
        raise
    except Exception as exc:
        # pypdf raises many kinds of error on a damaged file (its own, ValueError, KeyError,
        # struct.error…); whichever it is, the upload is at fault, not the server.
        logger.info("unreadable PDF: %s: %s", type(exc).__name__, exc)
        raise UnreadableDocumentError("the file is not a PDF that can be read") from None
    # Pages become paragraphs; the splitter cuts at those. Text may not hold NUL in PostgreSQL.
    return "\n\n".join(page.strip() for page in pages).replace("\x00", "")
