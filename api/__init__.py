"""The FastAPI app: admin API, health, and (later) Twilio webhooks."""
