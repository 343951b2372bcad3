-- Runs once, when the PostgreSQL volume is created. Temporal's auto-setup creates its own
-- databases; the platform's `callwright migrate` creates the vector extension in `callwright`.
CREATE EXTENSION IF NOT EXISTS vector;
