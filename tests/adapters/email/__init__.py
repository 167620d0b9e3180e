"""Tests of the email channel."""
