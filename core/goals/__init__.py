"""Goals: how a goal's success criteria relate to the data it collects."""
