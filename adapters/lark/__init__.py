"""Feishu/Lark: cards and commands through our own Open API client, events over HTTP."""
