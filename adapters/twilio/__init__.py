"""Twilio: text messages and phone calls out through its SDK, signed replies and key presses in."""

from __future__ import annotations

# Where Twilio calls us back (under ``server.base_url``); the sender and the routes share them.
SMS_PATH = "/hooks/sms/twilio"
SMS_STATUS_PATH = "/hooks/sms/twilio/status"
VOICE_PATH = "/hooks/voice/twilio"
VOICE_STATUS_PATH = "/hooks/voice/twilio/status"
