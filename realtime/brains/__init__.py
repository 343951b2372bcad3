"""Brains: what the agent says next, given what the caller said.

`GuidedBrain` needs no LLM: it walks the GoalManager's order, extracts typed values from the
caller's words, confirms and closes. It is also the fallback whenever an LLM brain fails.
"""

from realtime.brains.guided import BrainReply, GuidedBrain

__all__ = ["BrainReply", "GuidedBrain"]
