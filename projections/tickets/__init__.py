"""The `tickets` read model: one row per ticket."""
