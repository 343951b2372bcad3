"""Brains: what the agent says next, given what the caller said (interface in `base`).

`GuidedBrain` needs no LLM: it walks the GoalManager's order, extracts typed values from the
caller's words, confirms and closes. It is also the fallback whenever an LLM brain fails.
"""

from realtime.brains.base import Brain, BrainEvent, CallerTurn, Captured, EndCall, Rejected, Say
from realtime.brains.guided import BrainReply, GuidedBrain

__all__ = [
    "Brain",
    "BrainEvent",
    "BrainReply",
    "CallerTurn",
    "Captured",
    "EndCall",
    "GuidedBrain",
    "Rejected",
    "Say",
]
