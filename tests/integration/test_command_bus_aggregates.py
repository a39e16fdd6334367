"""The command bus with several aggregates per command: required ones (404 when missing),
consulted ones (given to the handler, changed and saved with the command), aggregates a
handler starts besides its target, and a customer's streams in the timeline."""

from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import event

from commands.base import Command
from commands.context import Target
from commands.errors import AggregateNotFound
from commands.handling import Decide, Decision
from commands.registry import COMMAND_HANDLERS, Handling
from domain.aggregate import Aggregate, CustomerOwned
from domain.customer import Customer
from domain.errors import CrmError
from domain.values import Meta
from infra.timeline import customer_events
from tests.integration.conftest import context, register

BOARD = UUID("00000000-0000-4000-8000-00000000b0a5")


class Board(Aggregate):
    """Configuration consulted by commands: counts the cards opened."""

    id: UUID

    @event("Set")
    def __init__(self, meta: Meta) -> None:
        self.cards = 0

    @event("CardCounted")
    def count(self, meta: Meta) -> None:
        self.cards += 1


class Card(CustomerOwned):
    """A customer's aggregate."""

    id: UUID

    @event("Opened")
    def __init__(self, customer_id: UUID, cards_before: int | None, meta: Meta) -> None:
        self.customer_id = customer_id
        self.cards_before = cards_before


class SetBoard(Command):
    pass


class OpenCard(Command):
    customer_id: UUID
    twin: bool = False
    refuse_after_counting: bool = False

    def required(self) -> dict[UUID, type[Aggregate]]:
        return {self.customer_id: Customer}

    def consulted(self) -> dict[UUID, type[Aggregate]]:
        return {BOARD: Board}


def set_board(_command: SetBoard, ctx: Decide[Board]) -> Decision:
    return Decision(ctx.current or Board(id=ctx.target_id, meta=ctx.meta))


def open_card(command: OpenCard, ctx: Decide[Card]) -> Decision:
    meta = ctx.meta
    board = ctx.consulted(BOARD, Board)
    card = Card(
        id=ctx.target_id,
        customer_id=command.customer_id,
        cards_before=board.cards if board else None,
        meta=meta,
    )
    if board:
        board.count(meta)
    if command.refuse_after_counting:
        raise CrmError("refused after the board counted the card")
    if command.twin:
        twin = Card(id=uuid4(), customer_id=command.customer_id, cards_before=None, meta=meta)
        return Decision(card, {"twin_id": str(twin.id)}, (twin,))
    return Decision(card)


@pytest.fixture(autouse=True)
def _cards_and_boards(monkeypatch) -> None:
    """The writer takes these test commands too."""
    monkeypatch.setitem(COMMAND_HANDLERS, SetBoard, Handling(Board, set_board))
    monkeypatch.setitem(COMMAND_HANDLERS, OpenCard, Handling(Card, open_card))


def open_card_for(container, customer_id: UUID, twin: bool = False, card_id=None) -> dict:
    command = OpenCard(customer_id=customer_id, twin=twin)
    target = Target(card_id or uuid4(), creates=True)
    return container.bus.execute(target, command, context()).body


def test_a_command_for_an_unknown_customer_is_not_found_and_records_nothing(container) -> None:
    stranger, card_id = uuid4(), uuid4()
    with pytest.raises(AggregateNotFound, match=f"no customer with id {stranger}"):
        open_card_for(container, stranger, card_id=card_id)
    assert list(container.store.events.get(card_id)) == []


def test_consulted_aggregates_are_given_to_the_handler_and_saved_with_it(container) -> None:
    # Given a customer, and no board yet: the command is not refused for it
    customer_id = register(container.bus)
    first = open_card_for(container, customer_id)
    assert container.store.repository.get(UUID(first["id"])).cards_before is None
    # When the board exists, two cards are opened
    container.bus.execute(Target(BOARD, creates=True), SetBoard(), context())
    second, third = (open_card_for(container, customer_id) for _ in range(2))
    # Then each handler saw the board, and the board's own events were saved too
    cards = [container.store.repository.get(UUID(c["id"])) for c in (second, third)]
    assert [card.cards_before for card in cards] == [0, 1]
    assert container.store.repository.get(BOARD).cards == 2


def test_a_refusal_after_changing_a_consulted_aggregate_saves_none_of_its_changes(
    container,
) -> None:
    # Given the board (set already, or now: a second set changes nothing)
    customer_id = register(container.bus)
    container.bus.execute(Target(BOARD, creates=True), SetBoard(), context())
    before = container.store.repository.get(BOARD).version
    # When a command counts a card on the board, then is refused, beside one that is not
    refused = OpenCard(customer_id=customer_id, refuse_after_counting=True)
    futures = [
        container.bus.submit(Target(uuid4(), creates=True), command, context())
        for command in (refused, OpenCard(customer_id=customer_id))
    ]
    # Then the refused one changed nothing, and the other counted once
    with pytest.raises(CrmError, match="refused after"):
        futures[0].result()
    futures[1].result()
    assert container.store.repository.get(BOARD).version == before + 1


def test_a_customers_streams_and_started_aggregates_are_in_its_timeline(container) -> None:
    # Given a customer with a card whose handler also started a twin card
    customer_id = register(container.bus)
    answer = open_card_for(container, customer_id, twin=True)
    # When the customer's timeline is read
    with container.pool.connection() as conn:
        events = customer_events(conn, customer_id)
    # Then it has the registration and both cards' events, each carrying the customer
    assert [e.type for e in events] == ["Customer.Registered", "Card.Opened", "Card.Opened"]
    assert {e.stream_id for e in events[1:]} == {answer["id"], answer["twin_id"]}
    assert {e.customer_id for e in events} == {str(customer_id)}
