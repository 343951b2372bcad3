"""The realtime voice plane (arrives with the "Realtime voice plane" issue)."""
