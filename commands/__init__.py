"""Turns validated commands into events: load, decide, save (in group-committed batches).

One command's way through the writer, module by module:

- `bus`: queues it (a second one with its Idempotency-Key in flight is refused) and hands
  what is waiting, as one batch, to
- `group_commit`: the batch's transaction, each command redone alone if it is refused, and
  the waits while the database is away or a COMMIT was cut off; its steps are
- `idempotency`: a command whose key has an answer stored gets it again, undecided;
- `deciding`: the command's target, required aggregates, If-Match version and unique claims
  (`claims`) are checked, its handler is found in `registry` and run (`handling` is the
  contract, `*_handlers` the handlers), and what it changed joins the batch;
- `unit_of_work`: what the steps read, and the save of the batch's aggregates with its
  claims, customer-stream links and answers (`postgres`, in one transaction of the event
  store; `memory`, for unit tests).

The commands themselves (`customers`, `leads`, ...) are pydantic models validated at the edge.
"""
