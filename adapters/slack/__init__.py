"""Slack: Bolt for everything that arrives at ``/hooks/slack``, the Web API for cards."""
