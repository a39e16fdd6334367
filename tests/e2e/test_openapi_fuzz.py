"""Schemathesis, with every check, against `crm serve` and its own OpenAPI document.

It generates requests from the document (examples, boundary values, random data, and
sequences that follow the document's links), with an admin key and a service key at once, for
a bounded time. Whatever it sends, the service answers no 5xx and nothing its document does
not describe (status, media type, headers, body schema). The other checks' findings (a
request the document allows refused by a rule the schema cannot express, a read model that
has not caught up with a command) are printed for reading, not failed on; a 405 must allow
exactly the path's methods.

CRM_TEST_FUZZ_SECONDS (default 40) bounds each run; CRM_TEST_FUZZ_SEED picks other inputs.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import Service

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
SECONDS = os.environ.get("CRM_TEST_FUZZ_SECONDS", "40")
SEED = os.environ.get("CRM_TEST_FUZZ_SEED", "20261207")

MUST_NOT_FAIL = {
    "ST101": "server error",
    "ST102": "server error on an undeclared Content-Type",
    "ST103": "undocumented status code",
    "ST104": "missing Content-Type",
    "ST105": "undocumented Content-Type",
    "ST106": "malformed media type",
    "ST107": "missing documented response header",
    "ST108": "response violates its schema",
    "ST109": "response is not JSON",
    "ST110": "response cannot be read",
    "ST111": "unknown discriminator value",
    "ST205": "a 405's Allow is not the path's methods",
}


def fuzz(service: Service, key: str, report: Path) -> subprocess.Popen[str]:
    """Starts a bounded schemathesis run with `key`, its JSON report written to `report`."""
    return subprocess.Popen(
        [
            SCHEMATHESIS,
            "run",
            f"{service.url}/openapi.json",
            "--checks=all",
            f"--header=Authorization: Bearer {key}",
            f"--max-time={SECONDS}",
            f"--seed={SEED}",
            "--workers=1",
            "--request-timeout=30",
            "--generation-database=none",
            "--no-color",
            "--report=json",
            f"--report-json-path={report}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.parametrize("roles", [("admin", "service")])
def test_no_generated_request_gets_a_server_error_or_an_undocumented_answer(
    shop: Service, tmp_path: Path, roles: tuple[str, ...]
) -> None:
    keys = {role: shop.create_key(role) for role in roles}
    runs = {role: fuzz(shop, key, tmp_path / f"{role}.json") for role, key in keys.items()}
    outputs = {role: run.communicate(timeout=int(SECONDS) * 4)[0] for role, run in runs.items()}
    for role in roles:
        report = json.loads((tmp_path / f"{role}.json").read_text())
        print(f"--- schemathesis with a {role} key (seed {SEED})\n{outputs[role]}")
        assert report["complete"] and report["operations"]["tested"] > 50, outputs[role]
        assert report["test_cases"]["generated"] > 500
        assert report["errors"] == [], outputs[role]
        found = {f["code"]: f["operations"] for f in report["failures"]}
        broken = {MUST_NOT_FAIL[code]: ops for code, ops in found.items() if code in MUST_NOT_FAIL}
        assert broken == {}, outputs[role]
