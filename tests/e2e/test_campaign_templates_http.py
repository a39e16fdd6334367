"""Drafting campaigns whose templates are hostile, over HTTP against `crm serve`: refused at
once (422 naming the field), and the command writer keeps answering everyone else."""

import time
from uuid import uuid4

import httpx
import pytest

from tests.e2e.test_customers_http import PROBLEM


def draft(api: httpx.Client, **templates: str) -> tuple[httpx.Response, float]:
    """POST /v1/campaigns with `templates`; the answer and how long it took."""
    body = {"name": "Hostile", "subject": "Hi", "body_html": "<p>Hi</p>", "segment": {"tag": "x"}}
    started = time.monotonic()
    answer = api.post("/v1/campaigns", json=body | templates)
    return answer, time.monotonic() - started


def assert_refused(answer: httpx.Response, field: str) -> None:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert [e["field"] for e in answer.json()["errors"]] == [field]


def test_a_template_of_huge_constants_is_refused_at_once_and_commands_go_on(api) -> None:
    # When a campaign is drafted whose body folds to a number of 2**28 bits
    refused, took = draft(api, body_html="<p>{{ (2**64)**(2**22) }}</p>")
    # Then it is refused at once, naming body_html
    assert_refused(refused, "body_html")
    assert took < 2
    # And a command right after it answers at once
    started = time.monotonic()
    canary = api.post("/v1/customers", json={"name": f"Canary {uuid4().hex[:6]}"})
    assert canary.status_code == 201, canary.text
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("field", "template"),
    [
        ("body_html", "{% for a in b %}" * 21 + "{{ loop.index }}" + "{% endfor %}" * 21),
        ("body_html", "{{ 1" + "0" * 5000 + " }}"),
        ("body_html", "{% filter upper %}" * 600 + "x" + "{% endfilter %}" * 600),
        ("body_html", "{{a}}" * 2000),
        ("body_html", "{{ ('x' * 10**7) * 10 }}"),
        ("subject", "{{ 1" + "+1" * 240 + " }}"),
    ],
    ids=["nested-blocks", "huge-integer", "deep-nesting", "many-tokens", "huge-text", "parens"],
)
def test_a_template_that_cannot_be_compiled_is_a_422_naming_its_field(
    api, field: str, template: str
) -> None:
    refused, took = draft(api, **{field: template})
    assert_refused(refused, field)
    assert took < 2
