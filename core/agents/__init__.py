"""Agent configuration: the spec an admin writes, its validation, and the compiled prompt."""
