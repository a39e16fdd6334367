"""The churn list's order as of an instant: every buyer scored once and sorted, highest risk
first, then by customer id. A page of `GET /v1/churn` is then a binary search and the
page's customers, whatever the number of buyers; `models` keeps rankings."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray
from psycopg import Connection

from domain.churn.risk import LEVELS, Floats
from infra import page_cursor as cursor_codec
from projections.churn.assessment import (
    Assessment,
    Facts,
    Position,
    assessments,
    read_facts,
    scored,
)
from projections.churn.buyers import Buyers


@dataclass(frozen=True)
class Page:
    """A page of assessments, highest risk first, and the next page's cursor (or None)."""

    ranking: "Ranking"
    items: list[Assessment]
    next_cursor: str | None


@dataclass(frozen=True, eq=False)
class Ranking:
    """The buyers' places in the list's order, minus their risks and their facts as of
    `at` (arrays in that order)."""

    buyers: Buyers
    at: datetime
    order: NDArray[np.int32]
    minus: Floats
    facts: Facts

    @property
    def nbytes(self) -> int:
        """The memory its own arrays take (the buyers' apart)."""
        arrays = (self.order, self.minus, *vars(self.facts).values())
        return sum(a.nbytes for a in arrays)

    def page(self, level: str | None, after: Position | None, limit: int) -> Page:
        """The buyers at `level` (any if None) after `after`, at most `limit` of them."""
        start, end = self._level(level)
        if after is not None:
            start = max(start, self._after(after))
        shown = slice(start, min(end, start + limit))
        items = assessments(self.buyers, self.order[shown], self.facts[shown], -self.minus[shown])
        more = start + limit < end  # then the page is full: limit >= 1
        return Page(self, items, _cursor(items[-1]) if more else None)

    def _level(self, level: str | None) -> tuple[int, int]:
        """Where the buyers at `level` start and end (levels follow the risk down)."""
        if level is None:
            return 0, len(self.order)
        n = [name for name, _ in LEVELS].index(level)
        tops = [int(np.searchsorted(self.minus, -lowest, "right")) for _, lowest in LEVELS[:-1]]
        bounds = [0, *tops, len(self.order)]
        return bounds[n], bounds[n + 1]

    def _after(self, after: Position) -> int:
        """Where the first buyer after `after` (minus a risk, then an id) stands."""
        minus, customer = after
        first = int(np.searchsorted(self.minus, minus, "left"))
        tied = self.order[first : int(np.searchsorted(self.minus, minus, "right"))]
        key = np.array(bytes.fromhex(customer.replace("-", "")), dtype=self.buyers.ids.dtype)
        return first + int(np.searchsorted(self.buyers.ids[tied], key, "right"))


def _cursor(last: Assessment) -> str:
    """The cursor of the page after `last`."""
    return cursor_codec.encode(f"{last.risk!r}/{last.customer_id}")


def rank(conn: Connection[Any], found: Buyers, at: datetime) -> Ranking:
    """Every buyer of `found` ranked as of `at` (their other facts read as of then)."""
    everyone = np.arange(len(found))
    known = read_facts(conn, found, at, None)
    minus = -scored(found, everyone, known)[1]
    order = np.lexsort((everyone, minus))
    return Ranking(found, at, order.astype(np.int32), minus[order], known[order])
