"""What a call is made of, as data: the workflow's inputs, signals, queries and results."""
