"""Read models: deterministic functions of the event sequence, rebuildable from position 0."""
