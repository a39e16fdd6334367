"""The order lines with a SKU of a set of purchases rows."""

LINES = """
SELECT p.*, l.line ->> 'sku' AS sku, l.line ->> 'name' AS name,
       (l.line ->> 'quantity')::numeric AS quantity,
       (l.line ->> 'unit_price')::numeric AS unit_price, l.number
FROM ({source}) AS p CROSS JOIN LATERAL jsonb_array_elements(p.items) WITH ORDINALITY AS l(line, number)
WHERE l.line ->> 'sku' IS NOT NULL
"""
"""`{source}` is a query of purchases rows; each line of them with a SKU, its quantity and
unit price `numeric` (so no sum of them overflows) and its `number` in the order (from 1)."""

NAME_ORDER = "occurred_at DESC, order_id DESC, customer_id DESC, number DESC"
"""Latest first, for a product's name: the order's time, its id, customer, the line's place."""
