"""Why a command was refused before any domain rule was checked."""

from domain.errors import CrmError


class AggregateNotFound(CrmError):
    """The command names an aggregate that does not exist."""

    rule = "not-found"


class VersionMismatch(CrmError):
    """If-Match named another version than the aggregate's current one."""

    rule = "version-mismatch"


class IdempotencyKeyReused(CrmError):
    """The Idempotency-Key was first used with another request body."""

    rule = "idempotency-key-reused"


class IdempotencyKeyInFlight(CrmError):
    """A request with this Idempotency-Key is still being processed."""

    rule = "idempotency-key-in-flight"
