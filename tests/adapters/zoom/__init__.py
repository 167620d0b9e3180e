"""Zoom Team Chat adapter tests."""
