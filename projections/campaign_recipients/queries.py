"""Questions answered by the campaign_recipients read model."""

from typing import Any
from uuid import UUID

from psycopg import Connection
from pydantic import BaseModel, ConfigDict, computed_field


class Metrics(BaseModel):
    """A campaign's results: recipients sent, suppressed, opened and clicked (machine opens
    apart) and bounced; rates are over the emails sent (null while none was)."""

    model_config = ConfigDict(frozen=True)

    sent: int
    suppressed: int
    opened: int
    clicked: int
    machine_opened: int
    bounced: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def open_rate(self) -> float | None:
        return round(self.opened / self.sent, 4) if self.sent else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def click_rate(self) -> float | None:
        return round(self.clicked / self.sent, 4) if self.sent else None

    def shown(self) -> dict[str, Any]:
        """The metrics as the API answers them."""
        return self.model_dump()


def metrics(conn: Connection[Any], campaign_id: UUID) -> Metrics:
    """The counts of a campaign's recipients, by what their email went through."""
    row = conn.execute(
        "SELECT count(*) FILTER (WHERE sent), count(*) FILTER (WHERE suppressed),"
        " count(*) FILTER (WHERE opened), count(*) FILTER (WHERE clicked),"
        " count(*) FILTER (WHERE machine_opened), count(*) FILTER (WHERE bounced)"
        " FROM campaign_recipients WHERE campaign_id = %s",
        (campaign_id,),
    ).fetchone()
    return Metrics.model_validate(dict(zip(Metrics.model_fields, row or (), strict=True)))
