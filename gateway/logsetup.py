"""Logging: JSON lines off a terminal, a request id on every line, secrets never printed."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

from gateway.masking import MaskingFilter

request_id: ContextVar[str] = ContextVar("request_id", default="-")
# Libraries kept quieter than the configured level: aiohttp's access log repeats what the
# metrics count (and would print ?token= queries), and aiosqlite at DEBUG prints every
# statement with its parameters (payloads, webhook URLs).
QUIET = {
    "aiohttp.access": logging.WARNING,
    "apscheduler": logging.WARNING,
    "aiosqlite": logging.INFO,
}


class ContextFilter(logging.Filter):
    """Adds the current request id to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def configure(level: str = "INFO", json_lines: bool | None = None) -> None:
    """Install one handler on the root logger; it masks secrets in whatever it writes."""
    if json_lines is None:
        json_lines = not sys.stderr.isatty()
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(MaskingFilter())
    handler.addFilter(ContextFilter())
    if json_lines:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name, quieter in QUIET.items():
        logging.getLogger(name).setLevel(quieter)
