"""Reading a page's `cursor` query parameter: the last key of the previous page."""

from collections.abc import Callable
from typing import TypeVar

from fastapi.exceptions import RequestValidationError

from infra import page_cursor

K = TypeVar("K")


def last_key(cursor: str | None, parse: Callable[[str], K]) -> K | None:
    """The key in `cursor` (None for the first page); 422 naming `cursor` if it is not a
    cursor of ours (`parse` raises ValueError)."""
    if cursor is None:
        return None
    try:
        return parse(page_cursor.decode(cursor))
    except ValueError:
        raise RequestValidationError(
            [{"loc": ("query", "cursor"), "msg": "invalid cursor", "type": "value_error"}]
        ) from None
