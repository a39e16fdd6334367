"""Handlers of ticket commands: `(command, aggregate, id, meta) -> (aggregate, answer)`, no I/O."""
