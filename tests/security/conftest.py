"""The call-workflow fixtures (a worker on its own task queue, a call input, a webhook
receiver), shared with tests/workflows, for the tests that run a call end to end."""

from tests.workflows.conftest import (  # noqa: F401 (fixtures pytest finds by name)
    call_settings,
    make_call,
    receiver,
    task_queue,
    temporal_client,
    worker,
)
