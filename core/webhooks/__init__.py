"""Webhooks to business systems: the Standard Webhooks envelope and signature."""
