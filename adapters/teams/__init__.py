"""Microsoft Teams: a Bot Framework bot with Adaptive Cards, behind ``POST /hooks/teams``."""
