"""The `deals` read model: one row per deal, with its stage history."""
