"""The `leads` read model: one row per lead, as the API shows it."""
