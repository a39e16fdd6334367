"""Plumbing: settings, PostgreSQL, the event store, logging, the composition root and the CLI."""
