"""Handlers of customer commands: `(command, aggregate, id, meta) -> (aggregate, answer)`, no I/O."""

from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel

from commands.customers import (
    ChangeCustomer,
    GiveFeedback,
    LogInteraction,
    RecordPurchase,
    RegisterCustomer,
)
from commands.registry import Answer, handles
from domain.aggregate import Aggregate
from domain.custom_fields import SCHEMA_ID, CustomFieldSchema
from domain.customer import Customer
from domain.values import CustomValue, Meta, Personal, Profile, PurchaseItem


def _fields(model: type[BaseModel], given: dict[str, Any]) -> dict[str, Any]:
    """The given values that belong to `model`, a null meaning the field's default."""
    fields = model.model_fields
    return {
        name: fields[name].get_default(call_default_factory=True) if value is None else value
        for name, value in given.items()
        if name in fields
    }


def _check_custom_fields(
    values: dict[str, CustomValue] | None, required: dict[UUID, Aggregate] | None
) -> None:
    """Refuses custom field values of another type than their definition (422)."""
    schema = (required or {}).get(SCHEMA_ID)
    if values and isinstance(schema, CustomFieldSchema):
        schema.check(values)


@handles(RegisterCustomer, Customer)
def register_customer(
    command: RegisterCustomer,
    _: None,
    customer_id: UUID,
    meta: Meta,
    required: dict[UUID, Aggregate] | None = None,
) -> tuple[Customer, Answer]:
    _check_custom_fields(command.custom_fields, required)
    given = command.model_dump(mode="json", exclude_none=True)
    customer = Customer.register(
        customer_id,
        external_ref=command.external_ref,
        personal=Personal.model_validate(_fields(Personal, given)),
        profile=Profile.model_validate(_fields(Profile, given)),
        tags=tuple(command.tags or ()),
        custom_fields=command.custom_fields or {},
        consent=command.consent or {},
        meta=meta,
    )
    return customer, {}


@handles(ChangeCustomer, Customer)
def change_customer(
    command: ChangeCustomer,
    customer: Customer,
    _: UUID,
    meta: Meta,
    required: dict[UUID, Aggregate] | None = None,
) -> tuple[Customer, Answer]:
    _check_custom_fields(command.custom_fields, required)
    given = command.model_dump(mode="json", include=command.model_fields_set - {"occurred_at"})
    customer.update(
        personal=_fields(Personal, given),
        profile=_fields(Profile, given),
        custom_fields=given.get("custom_fields") or {},
        tags=tuple(given["tags"] or ()) if "tags" in given else None,
        consent=given.get("consent"),
        meta=meta,
    )
    return customer, {}


@handles(LogInteraction, Customer)
def log_interaction(
    command: LogInteraction, customer: Customer, _: UUID, meta: Meta
) -> tuple[Customer, Answer]:
    interaction_id = uuid4()
    customer.log_interaction(
        interaction_id,
        command.channel,
        command.direction,
        command.subject,
        {"notes": command.notes} if command.notes else {},
        meta,
    )
    return customer, {"interaction_id": str(interaction_id)}


@handles(RecordPurchase, Customer)
def record_purchase(
    command: RecordPurchase, customer: Customer, _: UUID, meta: Meta
) -> tuple[Customer, Answer]:
    customer.record_purchase(
        order_id=command.order_id,
        items=tuple(PurchaseItem.model_validate(item.model_dump()) for item in command.items),
        total=command.total,
        currency=str(command.currency),
        payment_method=command.payment_method,
        meta=meta,
    )
    return customer, {"order_id": command.order_id}


@handles(GiveFeedback, Customer)
def give_feedback(
    command: GiveFeedback, customer: Customer, _: UUID, meta: Meta
) -> tuple[Customer, Answer]:
    feedback_id = uuid4()
    customer.give_feedback(
        feedback_id,
        command.rating,
        command.source,
        {"comment": command.comment} if command.comment else {},
        meta,
    )
    return customer, {"feedback_id": str(feedback_id)}
