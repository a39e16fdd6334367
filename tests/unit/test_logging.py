"""Logged exceptions: their type, causes and frames, never their message."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import logging
import structlog
from infra.logging import configure_logging

configure_logging("INFO")

def check(email):
    raise ValueError(f"{email} is taken")

try:
    try:
        check("ada@example.com")
    except ValueError as error:
        raise RuntimeError("registering ada@example.com failed") from error
except RuntimeError as error:
    logging.getLogger("uvicorn.error").error("Exception in ASGI application", exc_info=error)
    structlog.get_logger().exception("unhandled error")
    structlog.get_logger().warning("retrying", error=error)
try:
    open("/nonexistent/ada@example.com")
except OSError as error:
    structlog.get_logger().warning("cannot read", error=error)
"""


def test_logged_exceptions_show_their_types_causes_and_frames_never_their_messages() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[2],
    )
    assert "ada@example.com" not in done.stderr
    library, ours, field, os_error = (json.loads(line) for line in done.stderr.splitlines())
    for logged in (library, ours):
        assert logged["exception"] == "RuntimeError"
        assert logged["causes"] == ["ValueError"]
        assert logged["traceback"] and all(":" in frame for frame in logged["traceback"])
    assert field["error"] == "RuntimeError"
    assert os_error["error"] == "FileNotFoundError (errno 2)"
