"""Settings, data model, domain types and the pure logic shared by every process."""
