"""`X-Twilio-Signature`, signed where the console's test call and the simulated caller stand in
for Twilio and checked where the API and the realtime node take Twilio's requests: a signature
passes only for the URL, fields and account it was made for."""

from __future__ import annotations

from core.twilio_signature import twilio_signature, twilio_signature_valid

TOKEN = "an-accounts-auth-token"
MEDIA = "wss://rt.example.com/twilio/media"
VOICE = "https://api.example.com/twilio/voice?agent=3"
FORM = {"CallSid": "CA1", "From": "+15550001111", "To": "+15550002222"}


def test_an_upgrade_and_a_webhook_signed_here_pass_the_check() -> None:
    assert twilio_signature_valid(TOKEN, MEDIA, {}, twilio_signature(TOKEN, MEDIA, {}))
    assert twilio_signature_valid(TOKEN, VOICE, FORM, twilio_signature(TOKEN, VOICE, FORM))


def test_a_signature_fails_for_another_url_fields_or_account() -> None:
    signature = twilio_signature(TOKEN, VOICE, FORM)
    assert not twilio_signature_valid(TOKEN, VOICE.replace("3", "4"), FORM, signature)
    assert not twilio_signature_valid(TOKEN, VOICE, {**FORM, "To": "+15550003333"}, signature)
    assert not twilio_signature_valid("another-token", VOICE, FORM, signature)
    assert not twilio_signature_valid(TOKEN, MEDIA, {}, "")
