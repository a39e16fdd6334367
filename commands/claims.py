"""Uniqueness claims: values no two aggregates may hold (a customer's external reference,
a segment's name). A command states its claims (`Command.unique_claims`); the writer refuses
it if one is held already, or claimed earlier in its batch, and stores them with its events
(another writer's claim stored first makes the save conflict)."""

from commands.customers import EXTERNAL_REF
from commands.segments import SEGMENT_NAME
from commands.unit_of_work import Claim
from domain.errors import CrmError, ExternalRefTaken
from domain.segment import SegmentNameTaken

CLAIM_ERRORS: dict[str, type[CrmError]] = {
    EXTERNAL_REF: ExternalRefTaken,
    SEGMENT_NAME: SegmentNameTaken,
}


def claim_taken(kind: str, value: str) -> CrmError:
    """The refusal for a claim that another aggregate holds."""
    return CLAIM_ERRORS[kind](f"{kind.rsplit('.', maxsplit=1)[-1]} {value!r} is already taken")


def refuse_taken(claims: list[Claim], held: set[Claim]) -> None:
    """Refuses a command one of whose claims is held."""
    taken = [c for c in claims if c in held]
    if taken:
        raise claim_taken(*taken[0])
