"""Telegram: python-telegram-bot's Application for what arrives, its Bot for cards."""
