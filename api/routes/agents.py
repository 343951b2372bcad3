"""`/api/agents`: agents, and the goals, instructions and domains they are made of.

Every change leaves the agent valid: after a change the whole agent is validated again (as
`POST /api/agents/validate` would) and the change is refused, with every problem, if it is not.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.deps import CurrentKey, IdPath, SessionDep, authorize, get_owned
from api.schemas.agents import AgentCreate, AgentPublic, AgentSummary, AgentUpdate, CompiledPrompt
from api.schemas.common import (
    BreachPublic,
    ProblemPublic,
    ReplyCheck,
    ReplyVerdict,
    ValidationResult,
)
from api.schemas.domains import DomainLink, DomainPublic
from api.schemas.goals import GoalCreate, GoalPublic, GoalRef
from api.schemas.instructions import InstructionCreate, InstructionPublic, InstructionUpdate
from api.webhook_urls import WebhookGuard, document_webhook_urls
from core.agents.builder import AgentBuilder, goal_spec, instruction_snapshots
from core.agents.spec import InstructionKind
from core.agents.validation import Problem
from core.auth import Scope
from core.db.models import AgentConfig, AgentDomain, AgentGoal, AgentInstruction, Domain
from core.errors import ConflictError, InvalidConfigError, NotFoundError
from core.instructions.engine import InstructionEngine

router = APIRouter(
    prefix="/api/agents", tags=["agents"], dependencies=[Depends(authorize(Scope.AGENTS_WRITE))]
)


def agent_document(agent: AgentConfig) -> dict[str, Any]:
    """A loaded agent written back as the document that would create it (for validation)."""
    active = [i for i in agent.instructions if i.active]
    return {
        "name": agent.name,
        "template_id": agent.template_id,
        "base_prompt": agent.base_prompt,
        "voice": agent.voice,
        "goals": [goal_spec(link.goal).model_dump(mode="json") for link in agent.goal_links],
        "instructions": {
            "dos": [i.text for i in active if i.kind == InstructionKind.DO],
            "donts": [i.text for i in active if i.kind == InstructionKind.DONT],
        },
        "domain_ids": [link.domain_id for link in agent.domain_links],
    }


def agent_public(agent: AgentConfig) -> AgentPublic:
    """A loaded agent as the API shows it."""
    return AgentPublic.model_validate(
        {
            **{c: getattr(agent, c) for c in AgentPublic.model_fields if hasattr(agent, c)},
            "goals": [GoalPublic.model_validate(link.goal) for link in agent.goal_links],
            "instructions": [InstructionPublic.model_validate(i) for i in agent.instructions],
            "domains": [
                DomainPublic.model_validate(link.domain)
                for link in sorted(agent.domain_links, key=lambda link: link.domain_id)
            ],
        }
    )


async def _revalidate_and_commit(builder: AgentBuilder, agent_id: IdPath) -> AgentConfig:
    """Validate the agent as changed (unflushed changes included); commit or refuse."""
    await builder.session.flush()
    agent = await builder.load_agent(agent_id)
    problems = await builder.validate_agent_config(agent_document(agent))
    if problems:
        await builder.session.rollback()
        raise InvalidConfigError(problems)
    await builder.session.commit()
    return await builder.load_agent(agent_id)


async def _remove_link(
    session: SessionDep,
    key: CurrentKey,
    link_model: type[AgentGoal] | type[AgentDomain],
    agent_id: int,
    other_id: int,
    *,
    kind: str,
) -> None:
    """Delete the agent's link to a goal or a domain (404 for an unknown agent or link)."""
    await AgentBuilder(session, key.organization_id).load_agent(agent_id)
    link = await session.get(link_model, (agent_id, other_id))
    if link is None:
        raise NotFoundError(kind, other_id)
    await session.delete(link)
    await session.commit()


@router.get("", response_model=list[AgentSummary])
async def list_agents(session: SessionDep, key: CurrentKey) -> list[AgentConfig]:
    """Every agent of the organization, oldest first."""
    return list(
        await session.scalars(
            select(AgentConfig)
            .where(AgentConfig.organization_id == key.organization_id)
            .order_by(AgentConfig.id)
        )
    )


@router.post("", response_model=AgentPublic, status_code=status.HTTP_201_CREATED)
async def create_agent(
    session: SessionDep, key: CurrentKey, guard: WebhookGuard, body: AgentCreate
) -> AgentPublic:
    """Create a whole agent from one document; the goals and domain it names are created too."""
    builder = AgentBuilder(session, key.organization_id)
    document = body.model_dump(mode="json", exclude_unset=True)
    await guard.admit(document_webhook_urls(document))
    agent = await builder.create_agent(body.template_id, document)
    return agent_public(await builder.load_agent(agent.id))


@router.post("/validate", response_model=ValidationResult)
async def validate_agent(
    session: SessionDep,
    key: CurrentKey,
    config: Annotated[dict[str, Any], Body(examples=[{"name": "Front desk", "template_id": 1}])],
) -> ValidationResult:
    """Every problem in an agent document, each with the path of its field; nothing is stored."""
    builder = AgentBuilder(session, key.organization_id)
    problems = await builder.validate_agent_config(config)
    prompt = None
    if not problems:
        try:
            prompt = await builder.preview_prompt(config)
        except (ConflictError, NotFoundError) as exc:
            # A name or number already taken, a goal id that is not there: creating would fail.
            problems = [Problem(path=exc.field or "", message=str(exc))]
        except IntegrityError:  # the same name created at this moment by someone else
            problems = [Problem(path="name", message="an agent of this name was just created")]
    return ValidationResult(
        valid=not problems,
        problems=[ProblemPublic(path=p.path, message=p.message) for p in problems],
        compiled_prompt=prompt,
    )


@router.post("/check-reply", response_model=ReplyVerdict)
async def check_reply(_key: CurrentKey, body: ReplyCheck) -> ReplyVerdict:
    """Would an agent with these instructions be allowed to say `text`? The same check every
    reply passes on a call (`InstructionEngine`), so an admin can try a don't before saving."""
    instructions = [
        *instruction_snapshots(body.instructions.dos, InstructionKind.DO),
        *instruction_snapshots(body.instructions.donts, InstructionKind.DONT),
    ]
    breaches = InstructionEngine(instructions).validate_response(body.text)
    return ReplyVerdict(
        allowed=not breaches,
        breaches=[
            BreachPublic(instruction=b.instruction.text, reason=b.reason, evidence=b.evidence)
            for b in breaches
        ],
    )


@router.get("/{agent_id}", response_model=AgentPublic)
async def get_agent(session: SessionDep, key: CurrentKey, agent_id: IdPath) -> AgentPublic:
    """One agent with its goals, instructions, domains and voice."""
    return agent_public(await AgentBuilder(session, key.organization_id).load_agent(agent_id))


@router.patch("/{agent_id}", response_model=AgentPublic)
async def update_agent(
    session: SessionDep, key: CurrentKey, guard: WebhookGuard, agent_id: IdPath, body: AgentUpdate
) -> AgentPublic:
    """Change the fields given."""
    builder = AgentBuilder(session, key.organization_id)
    agent = await builder.load_agent(agent_id)
    changes = body.model_dump(mode="json", exclude_unset=True)
    for field in (
        "name",
        "description",
        "template_id",
        "voice",
        "custom_settings",
        "webhook_urls",
        "phone_numbers",
        "max_call_seconds",
        "inactivity_seconds",
    ):
        if field in changes and changes[field] is None:
            del changes[field]  # an explicit null cannot clear a required column
    if "voice" in changes:
        # A partial voice changes only the keys it names.
        changes["voice"] = {**agent.voice, **changes["voice"]}
    if "name" in changes:
        taken = await session.scalar(
            select(AgentConfig.id).where(
                AgentConfig.name == changes["name"],
                AgentConfig.organization_id == key.organization_id,
            )
        )
        if taken is not None and taken != agent_id:
            raise ConflictError(f"an agent named {changes['name']!r} already exists", field="name")
    if "phone_numbers" in changes:
        await builder.ensure_numbers_free(changes["phone_numbers"], agent_id=agent_id)
    await guard.admit(document_webhook_urls({"webhook_urls": changes.get("webhook_urls")}))
    # Validated before anything is written, so an unknown template is a 422 naming it, not a
    # foreign-key failure.
    problems = await builder.validate_agent_config({**agent_document(agent), **changes})
    if problems:
        raise InvalidConfigError(problems)
    for field, value in changes.items():
        setattr(agent, field, value)
    await session.commit()
    return agent_public(await builder.load_agent(agent_id))


@router.delete("/{agent_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_agent(session: SessionDep, key: CurrentKey, agent_id: IdPath) -> None:
    """Remove an agent and its instructions and links (shared goals and domains stay)."""
    await session.delete(await get_owned(session, AgentConfig, agent_id, key, kind="agent"))
    await session.commit()


@router.get("/{agent_id}/prompt", response_model=CompiledPrompt)
async def get_prompt(
    session: SessionDep, key: CurrentKey, request: Request, agent_id: IdPath
) -> CompiledPrompt:
    """The system prompt a call with this agent would start from now."""
    builder = AgentBuilder(session, key.organization_id, cache=request.app.state.cache)
    prompt = await builder.compile_system_prompt(agent_id)
    return CompiledPrompt(agent_id=agent_id, prompt=prompt)


@router.get("/{agent_id}/goals", response_model=list[GoalPublic])
async def list_agent_goals(
    session: SessionDep, key: CurrentKey, agent_id: IdPath
) -> list[GoalPublic]:
    """The agent's goals, in order."""
    agent = await AgentBuilder(session, key.organization_id).load_agent(agent_id)
    return [GoalPublic.model_validate(link.goal) for link in agent.goal_links]


@router.post("/{agent_id}/goals", response_model=AgentPublic, status_code=status.HTTP_201_CREATED)
async def add_agent_goal(
    session: SessionDep,
    key: CurrentKey,
    guard: WebhookGuard,
    agent_id: IdPath,
    body: GoalRef | GoalCreate,
) -> AgentPublic:
    """Give the agent a goal: an existing one by `goal_id`, or a new one inline."""
    builder = AgentBuilder(session, key.organization_id)
    agent = await builder.load_agent(agent_id)
    if isinstance(body, GoalCreate):
        await guard.admit([("completion_webhook", body.completion_webhook)])
    goal = await builder.resolve_goal(body.goal_id if isinstance(body, GoalRef) else body, path="")
    if any(link.goal_id == goal.id for link in agent.goal_links):
        raise ConflictError(f"agent {agent_id} already has goal {goal.id}", field="goal_id")
    position = max((link.position for link in agent.goal_links), default=-1) + 1
    session.add(AgentGoal(agent_id=agent_id, goal_id=goal.id, position=position))
    return agent_public(await _revalidate_and_commit(builder, agent_id))


@router.delete("/{agent_id}/goals/{goal_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_agent_goal(
    session: SessionDep, key: CurrentKey, agent_id: IdPath, goal_id: IdPath
) -> None:
    """Take a goal from the agent (the goal itself stays, for other agents)."""
    await _remove_link(session, key, AgentGoal, agent_id, goal_id, kind="goal")


@router.get("/{agent_id}/instructions", response_model=list[InstructionPublic])
async def list_instructions(
    session: SessionDep, key: CurrentKey, agent_id: IdPath
) -> list[AgentInstruction]:
    """The agent's instructions, highest priority first."""
    return list(
        (await AgentBuilder(session, key.organization_id).load_agent(agent_id)).instructions
    )


async def _get_instruction(
    session: SessionDep, key: CurrentKey, agent_id: IdPath, instruction_id: IdPath
) -> AgentInstruction:
    await AgentBuilder(session, key.organization_id).load_agent(agent_id)
    instruction = await session.get(AgentInstruction, instruction_id)
    if instruction is None or instruction.agent_id != agent_id:
        raise NotFoundError("instruction", instruction_id)
    return instruction


@router.post(
    "/{agent_id}/instructions",
    response_model=InstructionPublic,
    status_code=status.HTTP_201_CREATED,
)
async def add_instruction(
    session: SessionDep, key: CurrentKey, agent_id: IdPath, body: InstructionCreate
) -> AgentInstruction:
    """Add a do or a don't."""
    builder = AgentBuilder(session, key.organization_id)
    await builder.load_agent(agent_id)
    instruction = AgentInstruction(agent_id=agent_id, **body.model_dump(mode="json"))
    session.add(instruction)
    await _revalidate_and_commit(builder, agent_id)
    await session.refresh(instruction)
    return instruction


@router.put("/{agent_id}/instructions/{instruction_id}", response_model=InstructionPublic)
async def update_instruction(
    session: SessionDep,
    key: CurrentKey,
    agent_id: IdPath,
    instruction_id: IdPath,
    body: InstructionUpdate,
) -> AgentInstruction:
    """Change the fields given (e.g. `{"active": false}` to switch an instruction off)."""
    instruction = await _get_instruction(session, key, agent_id, instruction_id)
    changes = body.model_dump(mode="json", exclude_unset=True)
    for field, value in changes.items():
        if value is not None or field == "topic":
            setattr(instruction, field, value)
    await _revalidate_and_commit(AgentBuilder(session, key.organization_id), agent_id)
    await session.refresh(instruction)
    return instruction


@router.delete("/{agent_id}/instructions/{instruction_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_instruction(
    session: SessionDep, key: CurrentKey, agent_id: IdPath, instruction_id: IdPath
) -> None:
    """Remove an instruction."""
    await session.delete(await _get_instruction(session, key, agent_id, instruction_id))
    await session.commit()


@router.get("/{agent_id}/domains", response_model=list[DomainPublic])
async def list_agent_domains(
    session: SessionDep, key: CurrentKey, agent_id: IdPath
) -> list[Domain]:
    """The domains the agent knows."""
    agent = await AgentBuilder(session, key.organization_id).load_agent(agent_id)
    return [link.domain for link in sorted(agent.domain_links, key=lambda link: link.domain_id)]


@router.post("/{agent_id}/domains", response_model=AgentPublic, status_code=status.HTTP_201_CREATED)
async def add_agent_domain(
    session: SessionDep, key: CurrentKey, agent_id: IdPath, body: DomainLink
) -> AgentPublic:
    """Let the agent know a domain: by `domain_id`, or by `name` (created when new)."""
    builder = AgentBuilder(session, key.organization_id)
    agent = await builder.load_agent(agent_id)
    if body.domain_id is not None:
        domain = await session.scalar(
            select(Domain).where(
                Domain.id == body.domain_id, Domain.organization_id == key.organization_id
            )
        )
        if domain is None:
            raise NotFoundError("domain", body.domain_id, field="domain_id")
    else:
        assert body.name is not None
        domain = await builder.domain_by_name(body.name, create=True)
    if any(link.domain_id == domain.id for link in agent.domain_links):
        raise ConflictError(f"agent {agent_id} already knows domain {domain.id}", field="domain_id")
    session.add(AgentDomain(agent_id=agent_id, domain_id=domain.id))
    return agent_public(await _revalidate_and_commit(builder, agent_id))


@router.delete("/{agent_id}/domains/{domain_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_agent_domain(
    session: SessionDep, key: CurrentKey, agent_id: IdPath, domain_id: IdPath
) -> None:
    """Stop the agent knowing a domain (the domain itself stays)."""
    await _remove_link(session, key, AgentDomain, agent_id, domain_id, kind="domain")
