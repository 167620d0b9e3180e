"""The email channel: incident reports sent over SMTP."""
