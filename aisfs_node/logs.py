"""Logging setup: plain text or one JSON object a line; never a secret in a line."""

from __future__ import annotations

import json
import logging
import sys
import time

from aisfs_node.recent_log import RECENT


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def setup_logging(level: str, as_json: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if as_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler, RECENT]  # RECENT: the status page's last warnings/errors
    set_level(level)


def set_level(level: str) -> None:
    """Change the log level of a running process (SIGHUP reload calls this)."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    # Hypercorn's own error log is chatty at INFO (one line per bind)
    logging.getLogger("hypercorn.error").setLevel(max(logging.WARNING, root.level))
