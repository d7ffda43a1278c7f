"""Logging set-up: plain text or one JSON object a line."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message (and exception type)."""

    def format(self, record: logging.LogRecord) -> str:
        """Render one record."""
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            data["exception"] = record.exc_info[0].__name__
            data["traceback"] = self.formatException(record.exc_info)
        return json.dumps(data)


# slack_sdk's clients test their logger's own level (`logger.level <= DEBUG`), not the level
# it inherits, before formatting each request and response for a debug line: left unset, every
# API call renders the whole view or card (task notes included) twice, a measurable share of a
# /task command's time (docs/performance.md), and the logging module then drops both lines.
SLACK_CLIENTS = ("slack_sdk.web.async_base_client", "slack_sdk.web.base_client")


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Configure the root logger once; quiet libraries that log URLs or payloads."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # These log full request URLs and bodies at DEBUG/INFO (search terms, task text).
    quiet = max(logging.WARNING, logging.getLevelName(level))
    for noisy in ("httpx", "httpcore", "slack_sdk", "slack_bolt", "aiohttp.access", *SLACK_CLIENTS):
        logging.getLogger(noisy).setLevel(quiet)
