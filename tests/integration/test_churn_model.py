"""The BG/NBD model fitted on the purchases read model of a real PostgreSQL: the same model as
fitted on the purchase days themselves, up to the as-of date only; what each buyer spent in
their main currency, exactly."""

from collections.abc import Iterator
from dataclasses import astuple
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import numpy as np
import pytest

from api.bootstrap import Container
from commands.context import Target
from commands.customers import RecordPurchase
from consumers.store_follower import StoreFollower
from domain.churn.bgnbd import Parameters, fit
from domain.churn.histories import summarise
from domain.churn.model import NotEnoughPurchases
from projections.catalog import PURCHASES
from projections.churn.buyers import read_buyers
from tests.bgnbd_simulation import simulate_purchases
from tests.integration.conftest import context, crm_on, register

START = datetime(2025, 1, 6, 10, tzinfo=UTC)
AS_OF = date(2025, 12, 31)


@pytest.fixture
def crm(new_database) -> Iterator[Container]:
    """A container on a database of its own: the model is fitted on every customer."""
    with crm_on(new_database()) as built:
        yield built


def buy(bus, customer_id: UUID, at: datetime, n: int) -> object:
    command = RecordPurchase(order_id=f"o{n}", total="10", currency="EUR", occurred_at=at)
    return bus.submit(Target(customer_id), command, context())


def test_the_model_is_fitted_on_the_purchase_days_up_to_as_of(crm) -> None:
    # Given 300 customers whose purchases follow the BG/NBD story, from a first one in January
    rng = np.random.default_rng(5)
    firsts = [START + timedelta(days=int(d), hours=int(h)) for d, h in zip(
        rng.integers(0, 120, 300), rng.integers(0, 12, 300), strict=True)]  # fmt: skip
    T = np.array([(AS_OF - f.date()).days / 7 for f in firsts])
    customer, weeks = simulate_purchases(rng, Parameters(0.8, 4.0, 1.2, 3.0), T * 1.3)
    ids = [register(crm.bus, name=f"c{i}") for i in range(len(firsts))]
    times = {i: [f] for i, f in enumerate(firsts)}
    for c, w in zip(customer, weeks, strict=True):
        times[int(c)].append(firsts[c] + timedelta(weeks=float(w)))
    futures = [buy(crm.bus, ids[i], at, n) for i, ats in times.items() for n, at in enumerate(ats)]
    for future in futures:
        future.result()
    StoreFollower(crm.store, crm.pool, crm.url, [PURCHASES]).catch_up()
    # When the model is fitted as of the end of the year
    with crm.pool.connection() as conn:
        model = read_buyers(conn, AS_OF).model
    # Then it is the model of the purchase days up to that date (later ones are left out)
    days = {ids[i]: [at.astimezone(UTC).date() for at in ats] for i, ats in times.items()}
    histories = summarise(days, AS_OF)
    assert any(at.date() > AS_OF for ats in times.values() for at in ats)
    expected = fit(histories.x, histories.t_x, histories.T)
    assert astuple(model) == pytest.approx(astuple(expected), rel=1e-9)  # summation order
    assert model.customers == 300


def test_without_repeat_purchases_there_is_no_model(crm) -> None:
    # Given customers who bought once each
    ids = [register(crm.bus, name=f"once{i}") for i in range(3)]
    for customer_id in ids:
        buy(crm.bus, customer_id, START, 0).result()
    StoreFollower(crm.store, crm.pool, crm.url, [PURCHASES]).catch_up()
    # When / Then the model cannot be fitted: a refusal naming the rule
    with crm.pool.connection() as conn, pytest.raises(NotEnoughPurchases):
        read_buyers(conn, AS_OF)


def test_spend_is_counted_in_the_first_recorded_purchases_currency_exactly(crm) -> None:
    # Given a customer whose first order was in USD, then orders in EUR and USD
    ada, ben = (register(crm.bus, name=name) for name in ("ada", "ben"))
    for n, (total, currency) in enumerate((("10.5", "USD"), ("99", "EUR"), ("0.0125", "USD"))):
        order = RecordPurchase(order_id=f"o{n}", total=total, currency=currency,
                               occurred_at=START + timedelta(days=7 * n))  # fmt: skip
        crm.bus.submit(Target(ada), order, context()).result()
    buy(crm.bus, ben, START, 9).result()
    buy(crm.bus, ben, START + timedelta(days=3), 10).result()
    StoreFollower(crm.store, crm.pool, crm.url, [PURCHASES]).catch_up()
    # When the buyers are read
    with crm.pool.connection() as conn:
        found = read_buyers(conn, AS_OF)
    # Then each spent in their main currency, to the cent and beyond
    spend = {found.customer(i): found.spend(i) for i in range(len(found))}
    assert spend == {
        ada: {"total": Decimal("10.5125"), "currency": "USD"},
        ben: {"total": Decimal("20"), "currency": "EUR"},
    }
    assert str(spend[ada]["total"]) == "10.5125"
    assert found.lifetime_value(found.place(ada))["average_order_value"] == Decimal("5.26")
