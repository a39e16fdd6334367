"""The `campaign_recipients` read model: one row per campaign and customer it concerns."""
