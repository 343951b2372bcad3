"""Activities: every side effect a workflow needs (arrives with the "Durable calls" issue)."""
