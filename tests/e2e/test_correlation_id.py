"""X-Correlation-ID: visible ASCII is echoed byte for byte; anything else gets a fresh id."""

import socket
import uuid

from tests.e2e.conftest import Service


def echoed(service: Service, value: bytes) -> bytes:
    """The X-Correlation-ID answered to a request sending `value` as raw bytes."""
    port = int(service.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Correlation-ID: " + value + b"\r\n\r\n"
        )
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
    line = next(x for x in data.split(b"\r\n") if x.lower().startswith(b"x-correlation-id:"))
    return line.split(b":", 1)[1].strip()


def test_a_visible_ascii_correlation_id_is_echoed_and_any_other_replaced(
    service: Service,
) -> None:
    """Non-ASCII (UTF-8 or Latin-1), spaces, more than 200 bytes: once echoed as mojibake
    (read as Latin-1, sent back as UTF-8), now replaced by a fresh UUID."""
    assert echoed(service, b"order-42/retry_1~ok") == b"order-42/retry_1~ok"
    for refused in ("café-1".encode(), "café-1".encode("latin-1"), b"a b", b"x" * 201):
        fresh = echoed(service, refused).decode("ascii")
        assert fresh.encode() != refused
        assert str(uuid.UUID(fresh)) == fresh
