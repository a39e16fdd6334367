"""Campaign email templates: Jinja2 in a sandbox, pure functions (the sender renders with them).

A template sees one variable, `customer`, a mapping with these keys (see `customer_fields`):
`customer.name`, `customer.email`, `customer.phone`, `customer.external_ref`,
`customer.tags` (a sorted list), `customer.custom_fields` (a mapping: `customer.custom_fields.tier`)
and `customer.consent` (a mapping). A field that is missing renders as empty text; use
`{{ customer.name | default("friend") }}` for a fallback.

The HTML body is autoescaped (`<` in a customer's name renders as `&lt;`); the subject is plain
text, with line breaks and runs of spaces collapsed (no header injection). The sandbox refuses
access to private attributes, changes to the customer's data and unsafe calls: such a template
fails to render.

Templates are written by users, so what they may cost is bounded (`template_sandbox`):
compiling one computes nothing, and one customer's email renders within `Limits` (time,
characters written, loop iterations), or fails to render. Arithmetic on constants alone that
is sure to go over them (`{{ 2 ** 100000 }}`) is refused when the campaign is drafted.
"""

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import ChainableUndefined, Template, TemplateError, TemplateSyntaxError

from domain.errors import InvalidValue
from domain.template_limits import DEFAULT_LIMITS, BudgetExceeded, Limits
from domain.template_sandbox import (
    BoundedEnvironment,
    budget,
    refuse_large_constants,
    refuse_many_tokens,
)

MAX_TOKENS = 3_000
"""The most tokens (names, operators, literals, runs of text) a template may have: what
compiling one costs grows with them (docs/decisions/0012-template-token-limit.md);
a long email of text with a few hundred fields and tags has well under a thousand."""

_HTML = BoundedEnvironment(autoescape=True, undefined=ChainableUndefined)
_TEXT = BoundedEnvironment(autoescape=False, undefined=ChainableUndefined)


DATA_ERRORS = (TypeError, ValueError, ArithmeticError, LookupError)
"""What a template raises on a customer's data it does not fit (`{{ customer.x > 3 }}` with
a text `x`, a division by zero...): that customer's email does not render."""


class RenderError(ValueError):
    """A template that could not be rendered for a customer (unsafe access, over budget...)."""


def check(subject: str, body_html: str) -> None:
    """Refuses a template that does not compile, has more than MAX_TOKENS tokens, or whose
    constants alone go over the limits: InvalidValue naming `subject` or `body_html`."""
    for field, environment, source in (
        ("subject", _TEXT, subject),
        ("body_html", _HTML, body_html),
    ):
        refusal = _compiled(environment, source)
        if isinstance(refusal, str):
            raise InvalidValue(field, refusal)


def render(
    subject: str,
    body_html: str,
    customer_fields: Mapping[str, Any],
    limits: Limits = DEFAULT_LIMITS,
) -> tuple[str, str]:
    """The subject and HTML body of one customer's email, rendered within `limits`;
    RenderError if either fails."""
    text_template, html_template = _renderable(_TEXT, subject), _renderable(_HTML, body_html)
    context = {"customer": customer_fields}
    try:
        with budget(limits):
            text = text_template.render(context)
            html = html_template.render(context)
    except (TemplateError, RecursionError, *DATA_ERRORS) as error:
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


def _renderable(environment: BoundedEnvironment, source: str) -> Template:
    compiled = _compiled(environment, source)
    if isinstance(compiled, str):  # drafted before a rule refused it
        raise RenderError(compiled)
    return compiled


@lru_cache(maxsize=64)
def _compiled(environment: BoundedEnvironment, source: str) -> Template | str:
    """A compiled template, or why it is refused (cached either way: a campaign renders the
    same source for every recipient). What compiling costs grows with the tokens, so they
    are counted first."""
    try:
        refuse_many_tokens(environment, source, MAX_TOKENS)
        tree = environment.parse(source)
        refuse_large_constants(environment, tree)
        return environment.from_string(tree)
    except TemplateSyntaxError as error:
        return f"not a valid template: {error.message} (line {error.lineno})"
    except BudgetExceeded as error:
        return f"too costly a template: {error}"
    except RecursionError:
        return "not a valid template: nested too deeply"
    except Exception as error:  # noqa: BLE001 - Python refusing the code Jinja writes...
        return f"not a valid template: {type(error).__name__}: {error}"[:300]
