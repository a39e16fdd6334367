"""Running the `crm` command of a source tree for benchmarks: `crm serve` on a database, and
other commands with their progress bars read as they advance; what a process costs."""

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.conftest import Service, crm_env, free_port, start_service

CRM = str(Path(sys.executable).parent / "crm")
PROGRESS = re.compile(r"([\d,]+)/([\d,]+) (rows|events)")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def serve(tree: str, url: str, **settings: str) -> Service:
    """`crm serve` running the code of `tree` on `url`, with these CRM_ settings."""
    env = crm_env(database_url=url, port=str(free_port()), **settings)
    return start_service(env | {"PYTHONPATH": str(Path(tree).resolve())})


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_megabytes(pid: int, field: str = "VmRSS") -> float:
    """A process's resident memory in MB: now (VmRSS), or its peak so far (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Progressed:
    """A finished command: its exit status, its output, and its progress bar's readings as
    (seconds since launch, items done, items in all)."""

    returncode: int
    output: str
    seconds: float
    readings: list[tuple[float, int, int]] = field(default_factory=list)


def run_with_progress(args: list[str], tree: str, url: str) -> Progressed:
    """Runs `crm ARGS` of `tree` on `url` in a terminal of 200 columns, so that its rich
    progress bar draws itself, and notes each new count it shows ("N/M rows" or "events")."""
    env = crm_env(database_url=url) | {
        "PYTHONPATH": str(Path(tree).resolve()),
        "TERM": "xterm-256color",
        "COLUMNS": "200",
    }
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    started = time.perf_counter()
    process = subprocess.Popen([CRM, *args], env=env, stdout=secondary, stderr=secondary)
    os.close(secondary)
    done = Progressed(0, "", 0.0)
    chunks = []
    while chunk := _read(primary):
        now = time.perf_counter() - started
        text = ANSI.sub("", chunk.decode(errors="replace"))
        chunks.append(text)
        for match in PROGRESS.finditer(text):
            count, total = (int(group.replace(",", "")) for group in match.groups()[:2])
            if not done.readings or count != done.readings[-1][1]:
                done.readings.append((now, count, total))
    os.close(primary)
    done.returncode = process.wait()
    done.seconds = time.perf_counter() - started
    done.output = "".join(chunks)
    return done


def _read(fd: int) -> bytes:
    """The next output of a terminal; b"" once its process closed it."""
    try:
        return os.read(fd, 65536)
    except OSError:  # EIO: no process holds the terminal any more
        return b""
