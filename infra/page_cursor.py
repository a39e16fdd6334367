"""Opaque page cursors: the last key of a page, URL-safe base64."""

import base64


def encode(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def decode(cursor: str) -> str:
    """The key inside a cursor; ValueError if it is not a cursor."""
    try:
        key = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError as error:  # not base64 (binascii.Error), not ASCII, not UTF-8
        raise ValueError("invalid cursor") from error
    if "\x00" in key:  # PostgreSQL text cannot hold it: no cursor we made does
        raise ValueError("invalid cursor")
    return key
