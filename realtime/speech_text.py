"""Text into the pieces a TTS engine synthesizes: sentences, the first split at a comma.

A shorter first piece is synthesized sooner, so the caller hears the agent sooner; every engine
splits the same way, so played-word accounting is engine-independent. Pure and vendor-free, so
a GPU node without the CPU engines can import it.
"""

from __future__ import annotations

import re
from typing import Final

# A first clause shorter than this sounds clipped on its own ("Sure,"), and saves little time.
MIN_FIRST_CLAUSE_WORDS: Final = 3
# A sentence longer than this is also split at its commas. A read-back of five details is one
# long sentence; synthesized whole, it can take longer than the piece before it takes to play,
# and the caller hears a gap (and may take the floor). Clauses keep the pipeline ahead.
LONG_SENTENCE_WORDS: Final = 12
# Sentence ends: terminal punctuation (and any closing quotes or brackets) before whitespace.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)")
# Words whose trailing period does not end a sentence.
_ABBREVIATIONS: Final = frozenset(
    {"mr.", "mrs.", "ms.", "dr.", "st.", "jr.", "sr.", "prof.", "vs.", "etc.", "e.g.", "i.e."}
)
# A comma followed by a space: "1,500" is a number, not a clause boundary.
_CLAUSE_COMMA = re.compile(r",(?=\s)")


def split_sentences(text: str) -> list[str]:
    """`text` as sentences, whitespace normalised, punctuation kept."""
    text = " ".join(text.split())
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        last_word = text[start : match.end()].rsplit(" ", 1)[-1].lower()
        if last_word in _ABBREVIATIONS:
            continue
        sentences.append(text[start : match.end()].strip())
        start = match.end()
    sentences.append(text[start:].strip())
    return [s for s in sentences if s]


def split_for_speech(text: str, *, min_clause_words: int = MIN_FIRST_CLAUSE_WORDS) -> list[str]:
    """The pieces `text` is synthesized in: sentences, the first split at the first comma that
    follows a clause of at least `min_clause_words` words."""
    pieces = split_sentences(text)
    if not pieces:
        return pieces
    first = pieces[0]
    for match in _CLAUSE_COMMA.finditer(first):
        head, tail = first[: match.end()].strip(), first[match.end() :].strip()
        if len(head.split()) >= min_clause_words:
            if tail:
                pieces = [head, tail, *pieces[1:]]
            break
    return [clause for piece in pieces for clause in _clauses(piece, min_clause_words)]


def _clauses(sentence: str, min_words: int) -> list[str]:
    """A long sentence as comma clauses of at least `min_words` words; a short one whole."""
    if len(sentence.split()) <= LONG_SENTENCE_WORDS:
        return [sentence]
    clauses: list[str] = []
    start = 0
    for match in _CLAUSE_COMMA.finditer(sentence):
        head = sentence[start : match.end()].strip()
        rest = sentence[match.end() :].strip()
        if len(head.split()) >= min_words and len(rest.split()) >= min_words:
            clauses.append(head)
            start = match.end()
    clauses.append(sentence[start:].strip())
    return clauses
