"""Alert intake: parse monitoring-tool payloads and turn them into incidents."""
