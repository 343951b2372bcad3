"""The brain each simulated call talks to: the guided brain, or an LLM behind `LLM_BASE_URL`."""

from __future__ import annotations

import datetime as dt

from openai import AsyncOpenAI

from core.agents.prompt import compile_system_prompt
from core.agents.snapshot import AgentSnapshot
from core.settings import BrainName, Settings
from realtime.brains.base import Brain
from realtime.brains.guided import GuidedBrain
from realtime.brains.openai_chat import OpenAIChatBrain


class BrainFactory:
    """Makes one brain per call, of one kind; an LLM client is shared by all of them."""

    def __init__(
        self, kind: BrainName, settings: Settings, *, client: AsyncOpenAI | None = None
    ) -> None:
        """Brains of `kind`; for `openai`, the settings' LLM endpoint, or `client` if given."""
        self.kind = kind
        self.settings = settings
        self._client = client
        self._owns_client = False
        if kind is BrainName.OPENAI and client is None:
            self._client = OpenAIChatBrain.client_from_settings(settings)
            self._owns_client = True

    def __call__(self, agent: AgentSnapshot, *, today: dt.date) -> Brain:
        """A fresh brain for one call with `agent`; relative dates resolve against `today`."""
        guided = GuidedBrain(agent, today=today)
        if self.kind is BrainName.GUIDED:
            return guided
        assert self._client is not None
        return OpenAIChatBrain(
            compile_system_prompt(agent),
            client=self._client,
            model=self.settings.llm_model,
            fallback=guided,
            first_token_timeout_s=self.settings.llm_first_token_timeout_s,
            max_tokens=self.settings.llm_max_tokens,
            history_turns=self.settings.llm_history_turns,
        )

    async def aclose(self) -> None:
        """Close the LLM client this factory opened."""
        if self._owns_client and self._client is not None:
            await self._client.close()
