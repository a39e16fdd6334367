"""Pure domain model: aggregates that check rules and record events. No I/O."""
