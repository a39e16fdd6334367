"""The payload models of every event type, one module per aggregate (`domain.events.catalogue`
lists them)."""
