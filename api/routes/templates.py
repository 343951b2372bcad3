"""`/api/agents/templates`: the starting points agents are built on.

The starter templates are shared by every organization and read-only; an organization's own
templates are its alone."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, status
from sqlalchemy import select

from api.deps import CurrentKey, IdPath, SessionDep, authorize
from api.schemas.templates import TemplateCreate, TemplatePublic, TemplateUpdate
from core.agents.builder import AgentBuilder
from core.agents.validation import validate_voice
from core.auth import Scope
from core.db.models import AgentTemplate
from core.errors import ConflictError, InvalidConfigError, NotFoundError

router = APIRouter(
    prefix="/api/agents/templates",
    tags=["templates"],
    dependencies=[Depends(authorize(Scope.AGENTS_WRITE))],
)


def _visible(key: CurrentKey) -> Any:
    return AgentTemplate.organization_id.is_(None) | (
        AgentTemplate.organization_id == key.organization_id
    )


async def _get(session: SessionDep, key: CurrentKey, template_id: IdPath) -> AgentTemplate:
    template = await session.scalar(
        select(AgentTemplate).where(AgentTemplate.id == template_id, _visible(key))
    )
    if template is None:
        raise NotFoundError("template", template_id)
    return template


async def _get_own(session: SessionDep, key: CurrentKey, template_id: IdPath) -> AgentTemplate:
    template = await _get(session, key, template_id)
    if template.organization_id is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"template {template_id} is a shared starter template and cannot be changed; "
            "create your own from it",
        )
    return template


async def _ensure_name_free(
    session: SessionDep, key: CurrentKey, name: str, *, except_id: int | None = None
) -> None:
    # A name is taken by the organization's own templates and by the shared ones.
    taken = await session.scalar(
        select(AgentTemplate.id).where(AgentTemplate.name == name, _visible(key))
    )
    if taken is not None and taken != except_id:
        raise ConflictError(f"a template named {name!r} already exists", field="name")


def _ensure_valid_voice(voice: dict[str, object]) -> None:
    # Agents inherit the template's voice, so it must pass the same checks as theirs.
    problems = validate_voice(voice, path="default_voice")
    if problems:
        raise InvalidConfigError(problems)


@router.get("", response_model=list[TemplatePublic])
async def list_templates(session: SessionDep, key: CurrentKey) -> list[AgentTemplate]:
    """The shared starter templates, then the organization's own."""
    return list(
        await session.scalars(select(AgentTemplate).where(_visible(key)).order_by(AgentTemplate.id))
    )


@router.post("", response_model=TemplatePublic, status_code=status.HTTP_201_CREATED)
async def create_template(
    session: SessionDep, key: CurrentKey, body: TemplateCreate
) -> AgentTemplate:
    """Add a template of the organization's own."""
    _ensure_valid_voice(body.default_voice.model_dump(mode="json"))
    await _ensure_name_free(session, key, body.name)
    template = AgentTemplate(organization_id=key.organization_id, **body.model_dump(mode="json"))
    session.add(template)
    await session.commit()
    return template


@router.get("/{template_id}", response_model=TemplatePublic)
async def get_template(session: SessionDep, key: CurrentKey, template_id: IdPath) -> AgentTemplate:
    """One template."""
    return await _get(session, key, template_id)


@router.patch("/{template_id}", response_model=TemplatePublic)
async def update_template(
    session: SessionDep, key: CurrentKey, template_id: IdPath, body: TemplateUpdate
) -> AgentTemplate:
    """Change the fields given (of the organization's own templates only)."""
    template = await _get_own(session, key, template_id)
    changes = body.model_dump(mode="json", exclude_unset=True)
    for field in ("name", "base_prompt", "default_voice", "default_settings", "description"):
        if field in changes and changes[field] is None:
            del changes[field]  # an explicit null cannot clear a required column
    if "default_voice" in changes:
        # A partial voice changes only the keys it names.
        changes["default_voice"] = {**template.default_voice, **changes["default_voice"]}
        _ensure_valid_voice(changes["default_voice"])
    if "name" in changes:
        await _ensure_name_free(session, key, changes["name"], except_id=template_id)
    for field, value in changes.items():
        setattr(template, field, value)
    await session.commit()
    await session.refresh(template)
    return template


@router.delete("/{template_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_template(session: SessionDep, key: CurrentKey, template_id: IdPath) -> None:
    """Remove one of the organization's templates that no agent uses."""
    template = await _get_own(session, key, template_id)
    in_use = await AgentBuilder(session).count_agents_using_template(template_id)
    if in_use:
        raise ConflictError(f"template {template_id} is used by {in_use} agent(s)")
    await session.delete(template)
    await session.commit()
