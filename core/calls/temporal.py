"""Connecting to Temporal the one way every process does (pydantic payloads, one namespace)."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter


async def connect_temporal(address: str, namespace: str) -> Client:
    """A client whose payloads are dataclasses and pydantic models (`AgentSnapshot`)."""
    return await Client.connect(
        address, namespace=namespace, data_converter=pydantic_data_converter
    )
