"""Sales buckets from the query's tallies, and product associations from order counts."""

from datetime import date
from decimal import Decimal

from projections.purchases.periods import Period
from projections.purchases.products import Association, associate, ranked
from projections.purchases.sales import Bucket, CurrencySales, Tally, buckets

JAN_5, JAN_12 = date(2026, 1, 5), date(2026, 1, 12)


def test_buckets_keep_currencies_apart_and_include_empty_ones() -> None:
    # Given one week's tallies: 2 EUR orders of 2 customers (1 new), 1 USD order of a
    # returning customer who bought in EUR too; 3 orders of 2 customers in all
    tallies = [
        Tally(JAN_5, "USD", 1, Decimal("10"), 1, 0),
        Tally(JAN_5, "EUR", 2, Decimal("30.00"), 2, 1),
        Tally(JAN_5, None, 3, Decimal("40.00"), 2, 1),
    ]
    # When the weeks of 5 and 12 January are asked for
    found = buckets([JAN_5, JAN_12], Period.WEEK, tallies)
    # Then
    assert found == [
        Bucket(JAN_5, date(2026, 1, 11), orders=3, customers=2, new_customers=1,
               returning_customers=1, currencies=[
                   CurrencySales("EUR", Decimal("30.00"), 2, Decimal("15.00"), 2, 1, 1),
                   CurrencySales("USD", Decimal("10"), 1, Decimal("10.00"), 1, 0, 1),
               ]),
        Bucket(JAN_12, date(2026, 1, 18), 0, 0, 0, 0, []),
    ]  # fmt: skip


def test_the_average_order_value_is_rounded_to_the_cent() -> None:
    # Given 3 orders worth 10.00 in all
    (bucket,) = buckets([JAN_5], Period.DAY, [Tally(JAN_5, "EUR", 3, Decimal("10.00"), 3, 3)])
    # Then
    assert bucket.currencies[0].average_order_value == Decimal("3.33")
    assert bucket.end == JAN_5


def test_association_support_confidence_and_lift() -> None:
    # Given 10 orders with a SKU: 3 have tea, 4 have scones, 2 have both
    # When
    found = associate("SCONE", "Scone", together=2, its_orders=4, given=3, baskets=10)
    # Then support 2/10, confidence 2/3 (scones in tea orders), lift (2/3)/(4/10)
    assert found == Association("SCONE", "Scone", 2, 0.2, 0.6667, 1.6667)


def test_associations_rank_by_orders_then_lift_then_sku() -> None:
    a = Association("A", None, 2, 0.2, 0.5, 1.0)
    b = Association("B", None, 2, 0.2, 0.5, 2.5)
    c = Association("C", None, 5, 0.5, 0.9, 0.9)
    d = Association("D", None, 2, 0.2, 0.5, 1.0)
    assert ranked([a, b, c, d], 3) == [c, b, a]
