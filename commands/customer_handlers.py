"""Handlers of customer commands (see `commands.handling`)."""

from typing import Any
from uuid import uuid4

from pydantic import BaseModel

from commands.customers import (
    ChangeCustomer,
    EraseCustomer,
    GiveFeedback,
    LogInteraction,
    RecordPurchase,
    RegisterCustomer,
)
from commands.handling import Decide, Decision
from domain.custom_fields import SCHEMA_ID, CustomFieldSchema
from domain.customer import Customer
from domain.values import CustomValue, Personal, Profile, PurchaseItem


def _fields(model: type[BaseModel], given: dict[str, Any]) -> dict[str, Any]:
    """The given values that belong to `model`, a null meaning the field's default."""
    fields = model.model_fields
    return {
        name: fields[name].get_default(call_default_factory=True) if value is None else value
        for name, value in given.items()
        if name in fields
    }


def _check_custom_fields(values: dict[str, CustomValue] | None, ctx: Decide[Customer]) -> None:
    """Refuses custom field values of another type than their definition (422)."""
    schema = ctx.consulted(SCHEMA_ID, CustomFieldSchema)
    if values and schema is not None:
        schema.check(values)


def register_customer(command: RegisterCustomer, ctx: Decide[Customer]) -> Decision:
    _check_custom_fields(command.custom_fields, ctx)
    given = command.model_dump(mode="json", exclude_none=True)
    customer = Customer.register(
        ctx.target_id,
        external_ref=command.external_ref,
        personal=Personal.model_validate(_fields(Personal, given)),
        profile=Profile.model_validate(_fields(Profile, given)),
        tags=tuple(command.tags or ()),
        custom_fields=command.custom_fields or {},
        consent=command.consent or {},
        meta=ctx.meta,
    )
    return Decision(customer)


def change_customer(command: ChangeCustomer, ctx: Decide[Customer]) -> Decision:
    _check_custom_fields(command.custom_fields, ctx)
    given = command.model_dump(mode="json", include=command.model_fields_set - {"occurred_at"})
    customer = ctx.aggregate
    customer.update(
        personal=_fields(Personal, given),
        profile=_fields(Profile, given),
        custom_fields=given.get("custom_fields") or {},
        tags=tuple(given["tags"] or ()) if "tags" in given else None,
        consent=given.get("consent"),
        meta=ctx.meta,
    )
    return Decision(customer)


def log_interaction(command: LogInteraction, ctx: Decide[Customer]) -> Decision:
    interaction_id = uuid4()
    ctx.aggregate.log_interaction(
        interaction_id,
        command.channel,
        command.direction,
        command.subject,
        {"notes": command.notes} if command.notes else {},
        ctx.meta,
    )
    return Decision(ctx.aggregate, {"interaction_id": str(interaction_id)})


def record_purchase(command: RecordPurchase, ctx: Decide[Customer]) -> Decision:
    ctx.aggregate.record_purchase(
        order_id=command.order_id,
        items=tuple(PurchaseItem.model_validate(item.model_dump()) for item in command.items),
        total=command.total,
        currency=str(command.currency),
        payment_method=command.payment_method,
        meta=ctx.meta,
    )
    return Decision(ctx.aggregate, {"order_id": command.order_id})


def give_feedback(command: GiveFeedback, ctx: Decide[Customer]) -> Decision:
    feedback_id = uuid4()
    ctx.aggregate.give_feedback(
        feedback_id,
        command.rating,
        command.source,
        {"comment": command.comment} if command.comment else {},
        ctx.meta,
    )
    return Decision(ctx.aggregate, {"feedback_id": str(feedback_id)})


def erase_customer(command: EraseCustomer, ctx: Decide[Customer]) -> Decision:
    ctx.aggregate.erase(command.reason, ctx.meta)
    return Decision(ctx.aggregate)
