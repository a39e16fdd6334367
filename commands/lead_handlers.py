"""Handlers of lead commands: `(command, aggregate, id, meta) -> (aggregate, answer)`, no I/O."""
