"""Zoom Team Chat: a chatbot app spoken to over plain HTTP (no SDK): cards, clicks, commands."""
