"""Tests of the Slack adapter: parser, sender and the real app against a fake Slack."""
