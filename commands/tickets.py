"""Commands on tickets, validated at the edge (a 422 names the field at fault)."""

from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import ConfigDict, Field, StringConstraints
from pydantic.json_schema import SkipJsonSchema

from commands.base import Command, Lines, LongText, Text
from commands.customers import Ref
from domain.aggregate import Aggregate
from domain.customer import Customer
from domain.ticket import Author, Priority, TicketKind, TicketStatus
from domain.values import Channel

Body = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000), Lines
]


class OpenComplaint(Command):
    """Opens a ticket for a customer: a complaint (the default), a service request or a
    warranty claim (optionally naming the order it is about)."""

    success_status: ClassVar[int] = 201
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "subject": "Kettle stopped working",
                    "description": "It no longer heats since yesterday.",
                    "priority": "high",
                    "channel": "email",
                    "kind": "warranty_claim",
                    "order_ref": "A-1001",
                }
            ]
        }
    )

    customer_id: SkipJsonSchema[UUID]  # from the path, /v1/customers/{id}/complaints
    subject: Text
    description: Body
    priority: Priority = Priority.NORMAL
    channel: Channel
    kind: TicketKind = TicketKind.COMPLAINT
    order_ref: Ref | None = None

    def required(self) -> dict[UUID, type[Aggregate]]:
        return {self.customer_id: Customer}


class ReplyToTicket(Command):
    """Adds an agent's or the customer's reply to a ticket."""

    success_status: ClassVar[int] = 201
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"author": "agent", "body": "A replacement is on its way."}]
        }
    )

    author: Author
    body: Body


class ChangeTicketStatus(Command):
    """Moves a ticket to another status (the current one records nothing)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "solved"}]})

    status: TicketStatus


class RateSatisfaction(Command):
    """Records the customer's satisfaction (1 to 5) with a solved or closed ticket, once."""

    success_status: ClassVar[int] = 201
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"rating": 5, "comment": "Quick and friendly"}]}
    )

    rating: int = Field(ge=1, le=5)
    comment: LongText | None = None
