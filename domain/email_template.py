"""Campaign email templates: Jinja2 in a sandbox, pure functions (the sender renders with them).

A template sees one variable, `customer`, a mapping with these keys (see `customer_fields`):
`customer.name`, `customer.email`, `customer.phone`, `customer.external_ref`,
`customer.tags` (a sorted list), `customer.custom_fields` (a mapping: `customer.custom_fields.tier`)
and `customer.consent` (a mapping). A field that is missing renders as empty text; use
`{{ customer.name | default("friend") }}` for a fallback.

The HTML body is autoescaped (`<` in a customer's name renders as `&lt;`); the subject is plain
text, with line breaks and runs of spaces collapsed (no header injection). The sandbox refuses
access to private attributes and unsafe calls: such a template fails to render.
"""

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import ChainableUndefined, Template, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from domain.errors import InvalidValue

_HTML = SandboxedEnvironment(autoescape=True, undefined=ChainableUndefined)
_TEXT = SandboxedEnvironment(autoescape=False, undefined=ChainableUndefined)


DATA_ERRORS = (TypeError, ValueError, ArithmeticError, LookupError)
"""What a template raises on a customer's data it does not fit (`{{ customer.x > 3 }}` with
a text `x`, a division by zero...): that customer's email does not render."""


class RenderError(ValueError):
    """A template that compiled but could not be rendered for a customer (unsafe access...)."""


def check(subject: str, body_html: str) -> None:
    """Refuses a template that does not compile: InvalidValue naming `subject` or `body_html`."""
    for field, environment, source in (
        ("subject", _TEXT, subject),
        ("body_html", _HTML, body_html),
    ):
        try:
            _compiled(environment, source)
        except TemplateSyntaxError as error:
            raise InvalidValue(
                field, f"not a valid template: {error.message} (line {error.lineno})"
            ) from None


def render(subject: str, body_html: str, customer_fields: Mapping[str, Any]) -> tuple[str, str]:
    """The subject and HTML body of one customer's email; RenderError if either fails."""
    context = {"customer": customer_fields}
    try:
        text = _compiled(_TEXT, subject).render(context)
        html = _compiled(_HTML, body_html).render(context)
    except (TemplateError, *DATA_ERRORS) as error:
        raise RenderError(f"{type(error).__name__}: {error}") from None
    return " ".join(text.split()), html


def customer_fields(
    *,
    name: str | None,
    email: str | None,
    phone: str | None = None,
    external_ref: str | None = None,
    tags: Any = (),
    custom_fields: Mapping[str, Any] | None = None,
    consent: Mapping[str, bool] | None = None,
) -> dict[str, Any]:
    """The `customer` a template sees, from a customer's fields (a Customer or a 360 row)."""
    return {
        "name": name,
        "email": email,
        "phone": phone,
        "external_ref": external_ref,
        "tags": sorted(tags),
        "custom_fields": dict(custom_fields or {}),
        "consent": dict(consent or {}),
    }


@lru_cache(maxsize=64)
def _compiled(environment: SandboxedEnvironment, source: str) -> Template:
    """A compiled template (cached: a campaign renders the same source for every recipient)."""
    return environment.from_string(source)
