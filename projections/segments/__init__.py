"""The `segments` read model: one row per saved segment, its name and criteria."""
