"""Every JSON read route declares its answer: the OpenAPI document names a model for it, not
an object of any shape."""

from api.app import create_app
from infra.settings import Settings


def test_every_json_read_route_answers_a_named_model() -> None:
    app = create_app(None, None, Settings(_env_file=None))  # type: ignore[arg-type]
    answers = {
        path: operations["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        for path, operations in app.openapi()["paths"].items()
        if "application/json" in operations.get("get", {}).get("responses", {}).get("200", {})
        .get("content", {})
    }  # fmt: skip
    assert len(answers) > 20
    assert [path for path, schema in answers.items() if "$ref" not in str(schema)] == []
