"""Errors raised by the domain when a command would break a rule."""


class CrmError(Exception):
    """Base of every CRM rule violation; `rule` names the rule in problem types."""

    rule = "crm-rule"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class OrderAlreadyRecorded(CrmError):
    """The customer already has a purchase with this order id."""

    rule = "order-already-recorded"


class ExternalRefTaken(CrmError):
    """Another customer already holds this external reference."""

    rule = "external-ref-taken"


class CustomerErased(CrmError):
    """The customer was erased (GDPR art. 17): nothing more is recorded about them, nor on
    their tickets, deals and converted leads; their data cannot be exported any more."""

    rule = "customer-erased"


class InvalidValue(CrmError):
    """A field's value the domain refuses (an unknown deal stage, a custom field of the wrong
    type): answered 422, naming the field as request validation does."""

    rule = "validation"

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.args = (field, detail)  # rebuilt from its arguments in the API (commands.wire)
