"""Handlers of deal commands: `(command, aggregate, id, meta) -> (aggregate, answer)`, no I/O."""
