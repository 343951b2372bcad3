"""`/api/goals`: conversation goals, shared by the agents that pursue them."""

from __future__ import annotations

from fastapi import APIRouter, Depends, status
from sqlalchemy import select

from api.deps import CurrentKey, IdPath, SessionDep, authorize, get_owned
from api.schemas.goals import GoalCreate, GoalPublic, GoalUpdate
from api.webhook_urls import WebhookGuard
from core.agents.builder import goal_values
from core.agents.spec import GoalSpec
from core.agents.validation import validate_goal
from core.auth import Scope
from core.db.models import ConversationGoal
from core.errors import ConflictError, InvalidConfigError
from core.fields.inference import infer_required_data

router = APIRouter(
    prefix="/api/goals", tags=["goals"], dependencies=[Depends(authorize(Scope.AGENTS_WRITE))]
)


async def _ensure_name_free(
    session: SessionDep, key: CurrentKey, name: str, *, except_id: int | None = None
) -> None:
    taken = await session.scalar(
        select(ConversationGoal.id).where(
            ConversationGoal.name == name, ConversationGoal.organization_id == key.organization_id
        )
    )
    if taken is not None and taken != except_id:
        raise ConflictError(f"a goal named {name!r} already exists", field="name")


def _ensure_valid(goal: GoalSpec) -> None:
    # Agents share goals: a goal that passes these checks keeps every agent using it valid.
    problems = validate_goal(goal.model_dump(mode="json"))
    if problems:
        raise InvalidConfigError(problems)


def _data_was_inferred(goal: ConversationGoal) -> bool:
    """Whether the goal's stored fields are exactly those its criteria infer.

    Nothing marks inferred fields when they are stored, so this compares with a fresh inference.
    Fields an admin wrote (a custom question, another type, an extra field) differ and count as
    written; so do inferred fields stored before the lexicon changed, which is the safe side:
    a new criterion is then refused with its path rather than fields being silently replaced.
    """
    inferred = infer_required_data(goal.success_criteria)
    return goal.required_data == [f.model_dump(mode="json") for f in inferred]


@router.get("", response_model=list[GoalPublic])
async def list_goals(session: SessionDep, key: CurrentKey) -> list[ConversationGoal]:
    """Every goal of the organization."""
    return list(
        await session.scalars(
            select(ConversationGoal)
            .where(ConversationGoal.organization_id == key.organization_id)
            .order_by(ConversationGoal.id)
        )
    )


@router.post("", response_model=GoalPublic, status_code=status.HTTP_201_CREATED)
async def create_goal(
    session: SessionDep, key: CurrentKey, guard: WebhookGuard, body: GoalCreate
) -> ConversationGoal:
    """Add a goal."""
    _ensure_valid(body)
    await _ensure_name_free(session, key, body.name)
    await guard.admit([("completion_webhook", body.completion_webhook)])
    goal = ConversationGoal(
        organization_id=key.organization_id, name=body.name, **goal_values(body)
    )
    session.add(goal)
    await session.commit()
    return goal


@router.get("/{goal_id}", response_model=GoalPublic)
async def get_goal(session: SessionDep, key: CurrentKey, goal_id: IdPath) -> ConversationGoal:
    """One goal."""
    return await get_owned(session, ConversationGoal, goal_id, key, kind="goal")


@router.patch("/{goal_id}", response_model=GoalPublic)
async def update_goal(
    session: SessionDep, key: CurrentKey, guard: WebhookGuard, goal_id: IdPath, body: GoalUpdate
) -> ConversationGoal:
    """Change the fields given; the result must still be a valid goal.

    A goal whose data was inferred from its criteria (it was created without `required_data`)
    has it inferred again from new criteria unless the body sends `required_data`.
    """
    goal = await get_owned(session, ConversationGoal, goal_id, key, kind="goal")
    changes = body.model_dump(exclude_unset=True)
    required_data = goal.required_data
    if changes.get("required_data") is None and _data_was_inferred(goal):
        required_data = []  # GoalSpec infers it from the merged criteria
    merged = GoalSpec.model_validate(
        {
            "name": goal.name,
            "description": goal.description,
            "success_criteria": goal.success_criteria,
            "required_data": required_data,
            "completion_webhook": goal.completion_webhook,
            **{k: v for k, v in changes.items() if v is not None or k == "completion_webhook"},
        }
    )
    _ensure_valid(merged)
    await guard.admit([("completion_webhook", changes.get("completion_webhook"))])
    if merged.name != goal.name:
        await _ensure_name_free(session, key, merged.name, except_id=goal_id)
    goal.name = merged.name
    for field, value in goal_values(merged).items():
        setattr(goal, field, value)
    await session.commit()
    await session.refresh(goal)
    return goal


@router.delete("/{goal_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_goal(session: SessionDep, key: CurrentKey, goal_id: IdPath) -> None:
    """Remove a goal (and its links to agents)."""
    await session.delete(await get_owned(session, ConversationGoal, goal_id, key, kind="goal"))
    await session.commit()
