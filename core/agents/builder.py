"""AgentBuilder: turns an agent document into stored rows, and stored rows back into a snapshot.

The seed's three operations live here: `create_agent(template_id, customizations)`,
`compile_system_prompt(agent)` and `validate_agent_config(config)`. The pure work (prompt text,
validation rules) is in `core.agents.prompt` and `core.agents.validation`; this class adds what
needs the database: known templates and domains, goal reuse, loading an agent whole.

A builder works inside one organization (`organization_id`): it sees that organization's agents,
goals and domains and the shared starter templates, nothing else. Only platform code that is not
acting for a key (Twilio routing a call to the number's agent, tests) builds one without.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import String, cast, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.agents.prompt import MAX_ITEM_TITLES, compile_system_prompt
from core.agents.snapshot import AgentSnapshot, DomainSnapshot, InstructionSnapshot
from core.agents.spec import AgentSpec, GoalSpec, InstructionKind, VoiceSpec
from core.agents.validation import Problem, validate_agent_config
from core.cache import Cache
from core.calls.types import CallInput, Direction, WebhookRetry
from core.db.models import (
    AgentConfig,
    AgentDomain,
    AgentGoal,
    AgentInstruction,
    AgentTemplate,
    ConversationGoal,
    Domain,
    KnowledgeItem,
    Organization,
)
from core.errors import ConflictError, InvalidConfigError, NotFoundError

_Named = TypeVar("_Named", ConversationGoal, Domain)


def goal_row_matches(row: ConversationGoal, spec: GoalSpec) -> bool:
    """Whether a stored goal says the same as an inline one (so it can be shared, not copied)."""
    return goal_values(spec) == {
        "description": row.description,
        "success_criteria": row.success_criteria,
        "required_data": row.required_data,
        "completion_webhook": row.completion_webhook,
    }


def goal_values(spec: GoalSpec) -> dict[str, Any]:
    """A goal spec as the column values of `conversation_goals` (name aside)."""
    return {
        "description": spec.description,
        "success_criteria": dict(spec.success_criteria),
        "required_data": [f.model_dump(mode="json") for f in spec.required_data],
        "completion_webhook": str(spec.completion_webhook) if spec.completion_webhook else None,
    }


class CompiledAgent(BaseModel):
    """An agent as a call starts with it (what the compiled-agent cache holds)."""

    agent: AgentSnapshot
    prompt: str
    webhook_urls: list[str]
    max_call_seconds: float
    inactivity_seconds: float


def goal_spec(row: ConversationGoal) -> GoalSpec:
    """A stored goal as a spec."""
    return GoalSpec.model_validate(
        {
            "name": row.name,
            "description": row.description,
            "success_criteria": row.success_criteria,
            "required_data": row.required_data,
            "completion_webhook": row.completion_webhook,
        }
    )


class AgentBuilder:
    """Creates, validates, loads and compiles agents against one database session."""

    def __init__(
        self,
        session: AsyncSession,
        organization_id: int | None = None,
        *,
        cache: Cache | None = None,
    ) -> None:
        self.session = session
        self.organization_id = organization_id
        self.cache = cache
        """Where compiled agents are kept between calls (None: compiled every time)."""

    def _owned(self, model: type[Any]) -> Any:
        """The condition limiting `model`'s rows to this builder's organization (true without)."""
        if self.organization_id is None:
            return True
        return model.organization_id == self.organization_id

    def _visible_templates(self) -> Any:
        """Templates this organization may build on: its own and the shared starter templates."""
        if self.organization_id is None:
            return True
        return AgentTemplate.organization_id.is_(None) | (
            AgentTemplate.organization_id == self.organization_id
        )

    def _require_organization(self) -> int:
        if self.organization_id is None:
            raise RuntimeError("creating rows needs an AgentBuilder with an organization_id")
        return self.organization_id

    async def validate_agent_config(self, config: Mapping[str, Any]) -> list[Problem]:
        """Every problem in `config`, each with its path; empty when the agent can be built."""
        templates = (
            await self.session.execute(
                select(AgentTemplate.id, AgentTemplate.base_prompt).where(self._visible_templates())
            )
        ).all()
        domain_ids = (
            await self.session.scalars(select(Domain.id).where(self._owned(Domain)))
        ).all()
        return validate_agent_config(
            config,
            template_ids={t.id for t in templates},
            domain_ids=set(domain_ids),
            template_base_prompts={t.id: t.base_prompt for t in templates},
        )

    async def create_agent(
        self, template_id: int, customizations: Mapping[str, Any]
    ) -> AgentConfig:
        """Validate and store a new agent built on `template_id`, creating the goals and the
        domain it names. Raises InvalidConfigError (every problem) or ConflictError."""
        agent = await self._add_agent(template_id, customizations)
        await self.session.commit()
        return agent

    async def _add_agent(self, template_id: int, customizations: Mapping[str, Any]) -> AgentConfig:
        """`create_agent` up to its commit: the rows are flushed, not committed."""
        config = {**customizations, "template_id": template_id}
        problems = await self.validate_agent_config(config)
        if problems:
            raise InvalidConfigError(problems)
        spec = AgentSpec.model_validate(config)
        organization_id = self._require_organization()
        if await self.session.scalar(
            select(AgentConfig.id).where(
                AgentConfig.name == spec.name, AgentConfig.organization_id == organization_id
            )
        ):
            raise ConflictError(f"an agent named {spec.name!r} already exists", field="name")
        await self.ensure_numbers_free(spec.phone_numbers)

        template = await self.session.get(AgentTemplate, template_id)
        assert template is not None  # validation checked it
        voice = VoiceSpec.model_validate(
            {
                **template.default_voice,
                **(spec.voice.model_dump(exclude_unset=True) if spec.voice else {}),
            }
        )
        agent = AgentConfig(
            organization_id=organization_id,
            name=spec.name,
            description=spec.description,
            template_id=template_id,
            base_prompt=spec.base_prompt,
            greeting=spec.greeting,
            voice=voice.model_dump(mode="json"),
            webhook_urls=[str(url) for url in spec.webhook_urls],
            phone_numbers=list(spec.phone_numbers),
            max_call_seconds=spec.max_call_seconds,
            inactivity_seconds=spec.inactivity_seconds,
            custom_settings=spec.all_custom_settings(),
        )
        self.session.add(agent)
        await self.session.flush()

        for position, goal in enumerate(spec.goals):
            row = await self.resolve_goal(goal, path=f"goals[{position}]")
            self.session.add(AgentGoal(agent_id=agent.id, goal_id=row.id, position=position))
        self._add_instructions(agent.id, spec.instructions.dos, InstructionKind.DO)
        self._add_instructions(agent.id, spec.instructions.donts, InstructionKind.DONT)
        domain_ids = list(dict.fromkeys(spec.domain_ids))
        if spec.domain is not None:
            domain = await self.domain_by_name(spec.domain, create=True)
            if domain.id not in domain_ids:
                domain_ids.append(domain.id)
        for domain_id in domain_ids:
            self.session.add(AgentDomain(agent_id=agent.id, domain_id=domain_id))
        await self.session.flush()
        return agent

    def _add_instructions(self, agent_id: int, texts: list[str], kind: InstructionKind) -> None:
        # The seed lists instructions most important first: the first gets the highest priority.
        for index, text in enumerate(texts):
            self.session.add(
                AgentInstruction(
                    agent_id=agent_id, kind=kind.value, text=text, priority=len(texts) - index
                )
            )

    async def agent_for_number(self, number: str) -> AgentConfig | None:
        """The agent that owns a phone number (E.164), if any."""
        return await self.session.scalar(
            select(AgentConfig).where(AgentConfig.phone_numbers.contains([number])).limit(1)
        )

    async def ensure_numbers_free(self, numbers: list[str], *, agent_id: int | None = None) -> None:
        """Refuse a number another agent already answers (ConflictError naming it). A number
        routes calls platform-wide, so it is unique across organizations; another organization's
        agent is not named."""
        for index, number in enumerate(numbers):
            owner = await self.agent_for_number(number)
            if owner is not None and owner.id != agent_id:
                whose = (
                    f"agent {owner.id} ({owner.name})"
                    if self.organization_id in (None, owner.organization_id)
                    else "another organization's agent"
                )
                raise ConflictError(
                    f"{number} already belongs to {whose}", field=f"phone_numbers[{index}]"
                )

    async def resolve_goal(self, goal: GoalSpec | int, *, path: str = "") -> ConversationGoal:
        """The stored goal for an id or an inline spec: reused when a goal of that name says
        the same thing, created when new; a different goal under a taken name is a conflict.
        `path` is where the goal sits in the request, for error locations."""
        if isinstance(goal, int):
            row = await self.session.scalar(
                select(ConversationGoal).where(
                    ConversationGoal.id == goal, self._owned(ConversationGoal)
                )
            )
            if row is None:
                raise NotFoundError("goal", goal, field=path or "goal_id")
            return row
        row = await self._insert_or_get(ConversationGoal, goal.name, goal_values(goal))
        if not goal_row_matches(row, goal):
            raise ConflictError(
                f"a different goal named {goal.name!r} exists (id {row.id}); "
                "refer to it by id or give this one another name",
                field=f"{path}.name" if path else "name",
            )
        return row

    async def domain_by_name(self, name: str, *, create: bool) -> Domain:
        """The domain called `name`, created (empty) when `create` and it does not exist."""
        if create:
            return await self._insert_or_get(Domain, name, {"description": ""})
        domain = await self.session.scalar(
            select(Domain).where(Domain.name == name, self._owned(Domain))
        )
        if domain is None:
            raise NotFoundError("domain", name, field="name")
        return domain

    async def _insert_or_get(
        self, model: type[_Named], name: str, values: Mapping[str, Any]
    ) -> _Named:
        # INSERT … ON CONFLICT DO NOTHING, then read: two requests creating the same goal or
        # domain at once both end up with the one row, instead of one failing on the unique name.
        organization_id = self._require_organization()
        await self.session.execute(
            pg_insert(model)
            .values(name=name, organization_id=organization_id, **values)
            .on_conflict_do_nothing(index_elements=["organization_id", "name"])
        )
        row = await self.session.scalar(
            select(model)
            .where(model.name == name, model.organization_id == organization_id)
            .execution_options(populate_existing=True)
        )
        assert row is not None  # inserted now, or by whoever won the race
        return row

    async def load_agent(self, agent_id: int) -> AgentConfig:
        """An agent with its template, goals, instructions and domains loaded."""
        agent = await self.session.scalar(
            select(AgentConfig)
            .where(AgentConfig.id == agent_id, self._owned(AgentConfig))
            .options(
                selectinload(AgentConfig.template),
                selectinload(AgentConfig.goal_links).selectinload(AgentGoal.goal),
                selectinload(AgentConfig.instructions),
                selectinload(AgentConfig.domain_links).selectinload(AgentDomain.domain),
            )
            .execution_options(populate_existing=True)
        )
        if agent is None:
            raise NotFoundError("agent", agent_id)
        return agent

    async def snapshot(self, agent_id: int) -> AgentSnapshot:
        """A frozen, database-free picture of the agent as it is now."""
        agent = await self.load_agent(agent_id)
        titles: dict[int, list[str]] = {}
        for link in agent.domain_links:
            # The prompt names the first titles only (a domain may hold 100,000 items); one
            # more says that there are more.
            titles[link.domain_id] = list(
                await self.session.scalars(
                    select(KnowledgeItem.title)
                    .where(KnowledgeItem.domain_id == link.domain_id)
                    .group_by(KnowledgeItem.title)
                    .order_by(func.min(KnowledgeItem.id))
                    .limit(MAX_ITEM_TITLES + 1)
                )
            )
        return AgentSnapshot(
            id=agent.id,
            organization_id=agent.organization_id,
            name=agent.name,
            description=agent.description,
            template_name=agent.template.name,
            base_prompt=agent.base_prompt or agent.template.base_prompt,
            greeting=agent.greeting,
            goals=[goal_spec(link.goal) for link in agent.goal_links],
            instructions=[
                InstructionSnapshot(
                    kind=InstructionKind(i.kind),
                    text=i.text,
                    priority=i.priority,
                    active=i.active,
                    topic=i.topic,
                )
                for i in agent.instructions
            ],
            domains=[
                DomainSnapshot(
                    id=link.domain_id,
                    name=link.domain.name,
                    description=link.domain.description,
                    item_titles=titles[link.domain_id],
                )
                for link in sorted(agent.domain_links, key=lambda link: link.domain.name)
            ],
            voice=VoiceSpec.model_validate(agent.voice),
        )

    async def call_input(
        self,
        agent_id: int,
        *,
        call_sid: str,
        direction: Direction,
        from_number: str = "",
        to_number: str = "",
        webhook_retry: WebhookRetry | None = None,
        test: bool = False,
    ) -> CallInput:
        """The frozen start of a call with this agent as it is configured now (`test`: the web
        console's test call)."""
        compiled = await self.compiled(agent_id)
        return CallInput(
            call_sid=call_sid,
            agent=compiled.agent,
            compiled_prompt=compiled.prompt,
            direction=direction,
            from_number=from_number,
            to_number=to_number,
            webhook_urls=list(compiled.webhook_urls),
            max_call_seconds=compiled.max_call_seconds,
            inactivity_seconds=compiled.inactivity_seconds,
            webhook_retry=webhook_retry or WebhookRetry(),
            test=test,
        )

    async def preview_prompt(self, config: Mapping[str, Any]) -> str:
        """The system prompt an agent made from `config` would have, with nothing stored: the
        agent is added inside a savepoint, compiled, and the savepoint rolled back (with the
        row locks its writes took), so the preview is the real thing (templates, shared goals,
        domains and their item titles), not a second compiler, and the session's own work is
        untouched. Raises what `create_agent` raises."""
        savepoint = await self.session.begin_nested()
        try:
            agent = await self._add_agent(config["template_id"], config)
            return compile_system_prompt(await self.snapshot(agent.id))
        finally:
            await savepoint.rollback()

    async def compile_system_prompt(self, agent_id: int) -> str:
        """The agent's system prompt as it would be compiled for a call now."""
        return (await self.compiled(agent_id)).prompt

    async def compiled(self, agent_id: int) -> CompiledAgent:
        """The agent as a call starts with it: from the cache when nothing it is made of has
        changed since it was compiled (the versions PostgreSQL keeps, migration 0009), else
        loaded, compiled and cached. One small query on a hit instead of seven."""
        version = await self.version(agent_id)
        key = f"{agent_id}:{version}"
        if self.cache is not None:
            cached = await self.cache.get("agent", key)
            if cached is not None:
                return CompiledAgent.model_validate_json(cached)
        agent = await self.load_agent(agent_id)
        snapshot = await self.snapshot(agent_id)
        compiled = CompiledAgent(
            agent=snapshot,
            prompt=compile_system_prompt(snapshot),
            webhook_urls=list(agent.webhook_urls),
            max_call_seconds=float(agent.max_call_seconds),
            inactivity_seconds=float(agent.inactivity_seconds),
        )
        if self.cache is not None:
            await self.cache.set("agent", key, compiled.model_dump_json().encode())
        return compiled

    async def version(self, agent_id: int) -> str:
        """What the agent's compiled form depends on, as one string: its organization's
        configuration version and the knowledge version of each of its domains."""
        row = (
            await self.session.execute(
                select(
                    Organization.config_version,
                    select(
                        func.array_agg(
                            cast(Domain.id, String) + "@" + cast(Domain.knowledge_version, String)
                        )
                    )
                    .join(AgentDomain, AgentDomain.domain_id == Domain.id)
                    .where(AgentDomain.agent_id == AgentConfig.id)
                    .scalar_subquery(),
                )
                .join(AgentConfig, AgentConfig.organization_id == Organization.id)
                .where(AgentConfig.id == agent_id, self._owned(AgentConfig))
            )
        ).one_or_none()
        if row is None:
            raise NotFoundError("agent", agent_id)
        return f"{row[0]}-{'.'.join(sorted(row[1] or []))}"

    async def count_agents_using_template(self, template_id: int) -> int:
        """How many agents are built on a template (a template in use cannot be deleted)."""
        count = await self.session.scalar(
            select(func.count())
            .select_from(AgentConfig)
            .where(AgentConfig.template_id == template_id)
        )
        return int(count or 0)


def instruction_snapshots(texts: list[str], kind: InstructionKind) -> list[InstructionSnapshot]:
    """A do or don't list as an agent holds it: the first item gets the highest priority (as
    `AgentBuilder` stores them)."""
    return [
        InstructionSnapshot(kind=kind, text=text, priority=len(texts) - index)
        for index, text in enumerate(texts)
    ]
