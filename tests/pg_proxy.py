"""A TCP proxy in front of PostgreSQL that reads the frontend's messages, to inject faults
at exact points of the protocol: cutting a connection around a COMMIT, or an outage.

`cut_next_commit(forward=True)`: the next COMMIT of a transaction that wrote (inserted,
updated or deleted) is forwarded, and the client's connection is cut before the server's answer can reach it. The server reads the
COMMIT before it sees the end of the connection, so the transaction commits and the client
never hears so. `cut_next_commit(forward=False)`: the client's connection and the server's
are both cut instead of forwarding the COMMIT, so the server rolls the transaction back.
`close()` refuses new connections and cuts the open ones (PostgreSQL is down); `open()`
accepts them again.

Clients must not use TLS through it (`url()` sets `sslmode=disable`): it reads the
messages. COMMIT is recognised as a simple query, and as an extended-protocol statement
(psycopg prepares a statement it runs often, then only binds it by name).
"""

import asyncio
import contextlib
import threading

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.broker import free_port

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CUT_WAIT_SECONDS = 10.0
"""How long a cut connection's server side is given to answer the COMMIT it was sent."""


class PgProxy:
    """Forwards TCP connections from `port` to the PostgreSQL of `database_url`."""

    def __init__(self, database_url: str) -> None:
        params = conninfo_to_dict(database_url)
        self._target = (str(params.get("host", "127.0.0.1")), int(params.get("port", 5432)))
        self._database_url = database_url
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._transports: set[asyncio.BaseTransport] = set()
        self._trap: bool | None = None  # forward the trapped COMMIT?
        self.sprung = threading.Event()
        """Set when a trapped COMMIT was met (and its connection cut)."""
        threading.Thread(target=self._loop.run_forever, daemon=True, name="pg-proxy").start()
        self.open()

    def url(self) -> str:
        """The database URL, through this proxy, without TLS."""
        return make_conninfo(
            self._database_url,
            host="127.0.0.1",
            port=str(self.port),
            sslmode="disable",
            gssencmode="disable",
        )

    def cut_next_commit(self, *, forward: bool) -> None:
        """Cuts the connection of the next COMMIT: after forwarding it (the transaction
        commits unheard) or instead of forwarding it (it is rolled back)."""
        self.sprung.clear()
        self._trap = forward

    def open(self) -> None:
        """Accepts connections."""
        self._call(self._listen())

    def close(self) -> None:
        """Refuses new connections and cuts every open one."""
        self._call(self._shut())

    def stop(self) -> None:
        """Closes, ends what it was forwarding, and ends the proxy's thread."""
        self.close()
        self._call(self._cancel_tasks())
        self._loop.call_soon_threadsafe(self._loop.stop)

    async def _cancel_tasks(self) -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _call(self, coroutine: object) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)  # type: ignore[arg-type]

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._forward, "127.0.0.1", self.port)

    async def _shut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for transport in list(self._transports):
            transport.abort()
        self._transports.clear()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        link = _Link(writer, upstream_writer)
        self._transports |= {writer.transport, upstream_writer.transport}
        await asyncio.gather(
            self._frontend(reader, link),
            _backend(upstream_reader, link),
            return_exceptions=True,
        )
        for each in (writer, upstream_writer):
            self._transports.discard(each.transport)
            each.transport.abort()

    async def _frontend(self, reader: asyncio.StreamReader, link: "_Link") -> None:
        """Client to server, message by message, watching for a COMMIT while trapped."""
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:  # startup: untyped messages, until the StartupMessage itself
                length = await reader.readexactly(4)
                body = await reader.readexactly(int.from_bytes(length, "big") - 4)
                link.upstream.write(length + body)
                if int.from_bytes(body[:4], "big") not in (SSL_REQUEST, GSSENC_REQUEST):
                    break
            statements: dict[bytes, bytes] = {}  # prepared statement -> its query
            wrote = False  # the transaction under way inserted, updated or deleted
            committing = False  # a COMMIT was forwarded: cut once its Sync is
            while True:
                head = await reader.readexactly(5)
                body = await reader.readexactly(int.from_bytes(head[1:], "big") - 4)
                kind = head[:1]
                if kind == b"P":
                    name, query = body.split(b"\0")[:2]
                    statements[name] = query
                query = _query(kind, body, statements)
                commit = _is_commit(query)
                if self._trap is not None and wrote and commit and not committing:
                    forward, self._trap = self._trap, None
                    if not forward:
                        self.sprung.set()
                        link.cut_both()
                        return
                    committing = True
                    link.deaf = True  # from now on, nothing the server says reaches the client
                link.upstream.write(head + body)
                wrote = (wrote or _writes(query)) and not (commit or _is_rollback(query))
                if committing and kind in (b"Q", b"S"):
                    link.client.transport.abort()
                    await link.upstream.drain()
                    link.upstream.write_eof()  # the server reads the COMMIT, then the end
                    self.sprung.set()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(link.server_done.wait(), CUT_WAIT_SECONDS)
                    return
        link.upstream.transport.abort()
        link.client.transport.abort()


class _Link:
    """One client connection and its server connection."""

    def __init__(self, client: asyncio.StreamWriter, upstream: asyncio.StreamWriter) -> None:
        self.client, self.upstream = client, upstream
        self.deaf = False
        self.server_done = asyncio.Event()

    def cut_both(self) -> None:
        self.client.transport.abort()
        self.upstream.transport.abort()


async def _backend(reader: asyncio.StreamReader, link: _Link) -> None:
    """Server to client, as bytes; dropped once the link is deaf (until the server ends)."""
    try:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                if link.deaf:
                    continue
                link.client.write(data)
                await link.client.drain()
    finally:
        link.server_done.set()
        if not link.deaf:
            link.client.transport.abort()


def _query(kind: bytes, body: bytes, statements: dict[bytes, bytes]) -> bytes:
    """The SQL a frontend message runs: a simple query's, or a bound statement's."""
    if kind == b"Q":
        return body.rstrip(b"\0")
    if kind == b"B":
        return statements.get(body.split(b"\0")[1], b"")
    return b""


def _is_commit(query: bytes) -> bool:
    return query.strip().rstrip(b";").strip().upper() in (b"COMMIT", b"END")


def _is_rollback(query: bytes) -> bool:
    return query.strip().rstrip(b";").strip().upper() in (b"ROLLBACK", b"ABORT")


def _writes(query: bytes) -> bool:
    return any(word in query.upper() for word in (b"INSERT", b"UPDATE", b"DELETE"))
