"""Feishu/Lark adapter tests."""
