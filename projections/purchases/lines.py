"""The order lines with a SKU of a set of purchases rows."""

LINES = """
SELECT p.customer_id, p.order_id, p.occurred_at, p.currency{also},
       l.line ->> 'sku' AS sku, l.line ->> 'name' AS name,
       (l.line ->> 'quantity')::numeric AS quantity,
       (l.line ->> 'unit_price')::numeric AS unit_price, l.number
FROM ({source}) AS p CROSS JOIN LATERAL jsonb_array_elements(p.items) WITH ORDINALITY AS l(line, number)
WHERE l.line ->> 'sku' IS NOT NULL
"""
"""Each line with a SKU of the rows of `{source}` (a query of purchases rows): its order's
customer, id, time and currency (and the columns `{also}` names, each after a comma), its
quantity and unit price `numeric` (so no sum of them overflows) and its `number` in the
order (from 1). The order's `items` are not carried: an order of 1,000 lines would copy
them 1,000 times."""

NAME_ORDER = "occurred_at DESC, order_id DESC, customer_id DESC, number DESC"
"""Latest first, for a product's name: the order's time, its id, customer, the line's place."""


def lines(source: str, also: str = "") -> str:
    """LINES of `source`, with the columns `also` names (e.g. "p.occurred_on")."""
    return LINES.format(source=source, also=f", {also}" if also else "")
