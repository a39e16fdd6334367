"""The `campaigns` read model: one row per campaign, as the API shows it."""
