"""The custom search attributes every call workflow carries, so ops can filter calls in the
Temporal UI (`CallAgentId = '3'`). `callwright dev` registers them; on a production cluster run
`temporal operator search-attribute create --name CallAgentId --type Keyword` for each."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

CALL_SEARCH_ATTRIBUTES: dict[str, str] = {
    "CallAgentId": "Keyword",
    "CallAgentName": "Keyword",
    "CallDirection": "Keyword",
    "CallOutcome": "Keyword",
    "CallGoalsCompleted": "Int",
}

AGENT_ID = SearchAttributeKey.for_keyword("CallAgentId")
AGENT_NAME = SearchAttributeKey.for_keyword("CallAgentName")
DIRECTION = SearchAttributeKey.for_keyword("CallDirection")
OUTCOME = SearchAttributeKey.for_keyword("CallOutcome")
GOALS_COMPLETED = SearchAttributeKey.for_int("CallGoalsCompleted")


def call_start_attributes(
    agent_id: int | None, agent_name: str, direction: str
) -> TypedSearchAttributes:
    """What a call is found by in the Temporal UI from the moment it starts."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(AGENT_ID, str(agent_id or "")),
            SearchAttributePair(AGENT_NAME, agent_name),
            SearchAttributePair(DIRECTION, direction),
        ]
    )
