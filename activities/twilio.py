"""Activities that reach Twilio's REST API (the cloud cannot be reached from tests: they run a
local server speaking Twilio's wire protocol, see `core.twilio_rest`)."""

from __future__ import annotations

import asyncio
import logging

from temporalio import activity
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client as TwilioClient

from core.calls.activities import HANG_UP_CALL, HangUp

logger = logging.getLogger(__name__)


class TwilioActivities:
    """Built with a Twilio client, or None where no Twilio account is configured."""

    def __init__(self, twilio: TwilioClient | None) -> None:
        self.twilio = twilio

    @activity.defn(name=HANG_UP_CALL)
    async def hang_up(self, request: HangUp) -> bool:
        """End a live call; False when there is no Twilio account or the call is already over."""
        if self.twilio is None:
            logger.info("no Twilio account configured: not hanging up %s", request.call_sid)
            return False
        twilio = self.twilio

        def complete() -> None:
            twilio.calls(request.call_sid).update(status="completed")

        try:
            # The twilio library is synchronous; a thread keeps the worker's loop free.
            await asyncio.to_thread(complete)
        except TwilioRestException as exc:
            if exc.status == 404:
                return False
            raise
        return True
