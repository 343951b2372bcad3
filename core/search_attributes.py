"""The custom search attributes every call workflow carries, so ops can filter calls in the
Temporal UI (`CallAgentId = '3'`). `callwright dev` registers them; on a production cluster run
`temporal operator search-attribute create --name CallAgentId --type Keyword` for each."""

from __future__ import annotations

CALL_SEARCH_ATTRIBUTES: dict[str, str] = {
    "CallAgentId": "Keyword",
    "CallAgentName": "Keyword",
    "CallDirection": "Keyword",
    "CallOutcome": "Keyword",
    "CallGoalsCompleted": "Int",
}
