"""Structured logs: one JSON object per line, to stderr and to a per-process file rotated
daily at midnight UTC (14 days kept). See docs/design/supervisor.md, "Logs".

Each process writes its own file (`vigil-<process>.log`): several processes rotating one
shared file would race (each renames it at midnight, and a later rename clobbers the
earlier's backup).
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

BACKUP_DAYS = 14
# Attributes every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_encoder = msgspec.json.Encoder(enc_hook=repr)


def log_file(log_dir: Path, process: str) -> Path:
    """Where `process` writes; rotated files get a `.YYYY-MM-DD` suffix (the day they cover)."""
    return log_dir / f"vigil-{_UNSAFE.sub('_', process)}.log"


class JsonFormatter(logging.Formatter):
    """A record as one JSON line: time (RFC 3339, ms, UTC), level, process, logger,
    message, `exception` when there is one, then the record's `extra=` fields."""

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        out: dict[str, Any] = {
            "time": when.replace("+00:00", "Z"),
            "level": record.levelname,
            "process": self.process,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in out:
                out[key] = value
        return _encoder.encode(out).decode()


def setup_logging(log_dir: Path | None, process: str, level: int | str = logging.INFO) -> None:
    """Send the root logger's records to stderr and, given `log_dir`, to this process's file.

    Idempotent: handlers installed by an earlier call are closed and replaced."""
    stop_logging()
    formatter = JsonFormatter(process)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        path = log_file(log_dir, process)
        rotating = logging.handlers.TimedRotatingFileHandler(
            path, when="midnight", utc=True, backupCount=BACKUP_DAYS, encoding="utf-8"
        )
        handlers.append(rotating)
    root = logging.getLogger()
    for handler in handlers:
        handler.setFormatter(formatter)
        handler._vigil = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)


def stop_logging() -> None:
    """Remove and close the handlers `setup_logging` installed (files are flushed)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_vigil", False):
            root.removeHandler(handler)
            handler.close()
