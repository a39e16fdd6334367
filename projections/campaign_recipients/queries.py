"""Questions answered by the campaign_recipients read model."""

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg import Connection


@dataclass(frozen=True)
class Metrics:
    """A campaign's results; opens and clicks count recipients, machine opens apart.
    Rates are over the emails sent (None when none was)."""

    sent: int
    suppressed: int
    opened: int
    clicked: int
    machine_opened: int
    bounced: int

    @property
    def open_rate(self) -> float | None:
        return round(self.opened / self.sent, 4) if self.sent else None

    @property
    def click_rate(self) -> float | None:
        return round(self.clicked / self.sent, 4) if self.sent else None

    def shown(self) -> dict[str, Any]:
        """The metrics as the API answers them."""
        return vars(self) | {"open_rate": self.open_rate, "click_rate": self.click_rate}


def metrics(conn: Connection[Any], campaign_id: UUID) -> Metrics:
    """The counts of a campaign's recipients, by what their email went through."""
    row = conn.execute(
        "SELECT count(*) FILTER (WHERE sent), count(*) FILTER (WHERE suppressed),"
        " count(*) FILTER (WHERE opened), count(*) FILTER (WHERE clicked),"
        " count(*) FILTER (WHERE machine_opened), count(*) FILTER (WHERE bounced)"
        " FROM campaign_recipients WHERE campaign_id = %s",
        (campaign_id,),
    ).fetchone()
    return Metrics(*row)  # type: ignore[misc]
