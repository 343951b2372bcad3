"""With PostgreSQL down (a restart, an outage), the API answers 503 with Retry-After, not 500."""

from __future__ import annotations

from core.db.session import make_async_engine
from core.settings import Settings
from tests.conftest import app_client
from workers.services import find_free_port


async def test_a_database_that_does_not_answer_is_a_503_with_retry_after(
    settings: Settings,
) -> None:
    nowhere = make_async_engine(f"postgresql://nobody@127.0.0.1:{find_free_port()}/none")
    try:
        async with app_client(settings, nowhere, "cw_not-checked-before-the-database") as client:
            response = await client.get("/api/calls/CA123")
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "2"
        assert "database" in response.json()["detail"]
    finally:
        await nowhere.dispose()
