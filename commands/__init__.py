"""Turns validated commands into events: load, decide, save (in group-committed batches)."""
