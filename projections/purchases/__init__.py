"""The `purchases` read model: one row per order, and the sales and product reports."""
