"""`callwright eval`: adaptive simulated callers run against an agent, and what they measure.

One concept a module:

- `scenario`: the YAML scenario format and its checks; `cases`: scenarios made ready to run
  (each with its agent, fields and truth); `agents`: an agent document as a snapshot, no database.
- `topics` and `hearing`: what the agent's words ask, judged from those words alone;
  `caller`: the adaptive caller that answers them; `truth`: matching a recorded value to a fact.
- `conversation`: one call at the text level against a `Brain`; `record`: what happened on it;
  `brains`: the brain each call talks to; `suite`: running many; `outcome`: judging one.
- `audio`: the same calls by phone audio against a running stack (`SimulatedCaller`).
- `report`: the figures (goal completion, field accuracy, turns, latency) as text and JSON;
  `command`: the CLI command.
"""
