"""The `settings` read model: one row per configuration aggregate (pipeline stages, lead
scoring rules, sales reps, custom field definitions), its configuration as a JSON document."""
