"""DingTalk adapter tests."""
