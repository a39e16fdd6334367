"""Erasure through Kafka: the projectors that hold personal data, fed from the topic, leave
nothing of an erased customer readable (their converted lead's events travel on another
partition than the erasure), and the other customer's data whole."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from api.bootstrap import Container
from commands.customers import EraseCustomer
from infra.kafka import end_offsets
from infra.settings import Settings
from tests.integration.kafka_helpers import consumed, crm_on_kafka, relay_all
from tests.integration.test_erasure import KEPT, SECRET, do, lived
from tests.waiting import wait_for

PERSONAL = ("customer_360", "tickets", "deals", "leads")
"""The read models that hold personal data."""


@pytest.fixture(scope="module")
def kafka_crm(new_database: Callable[[], str]) -> Iterator[tuple[Container, Settings]]:
    """A CRM on the Kafka path, with the projectors of PERSONAL running."""
    with crm_on_kafka(new_database(), *PERSONAL) as running:
        yield running


def relayed_and_consumed(crm: Container, chosen: Settings) -> None:
    relay_all(crm, chosen)
    ends = end_offsets(chosen)
    wait_for(lambda: consumed(crm, chosen, PERSONAL, ends), seconds=60)


def text_of(crm: Container) -> str:
    with crm.pool.connection() as conn:
        rows: list[Any] = []
        for table in (*PERSONAL, "crm_dead_letters"):
            rows += conn.execute(f"SELECT t::text FROM {table} t").fetchall()  # noqa: S608
    return "\n".join(text for (text,) in rows)


def test_nothing_of_an_erased_customer_is_readable_once_the_projectors_caught_up(
    kafka_crm,
) -> None:
    crm, chosen = kafka_crm
    # Given two customers with a life of every kind, on the topic and in the read models
    erased = lived(crm, SECRET)
    lived(crm, KEPT)
    relayed_and_consumed(crm, chosen)
    assert SECRET in text_of(crm)
    # When the first is erased, and the projectors have consumed the erasure
    do(crm, erased, EraseCustomer(reason="GDPR art. 17"))
    relayed_and_consumed(crm, chosen)
    # Then nothing of them is readable in those read models; the other's data is whole
    text = text_of(crm)
    assert SECRET not in text and SECRET.lower() not in text
    assert text.count(KEPT) >= 10
