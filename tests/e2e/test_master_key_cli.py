"""A `crm` process refuses a database first used with another master key, in one line."""

import base64
import os
import subprocess
from collections.abc import Callable

from tests.e2e.conftest import CRM, crm_env


def test_another_master_key_is_refused_with_what_to_do(new_database: Callable[[], str]) -> None:
    url = new_database()
    first = subprocess.run([CRM, "keys", "list"], env=crm_env(database_url=url), check=True)
    assert first.returncode == 0
    other = base64.b64encode(os.urandom(32)).decode()
    refused = subprocess.run(
        [CRM, "keys", "list"],
        env=crm_env(database_url=url, master_key=other),
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 1
    assert "first used with another master key" in refused.stdout
    assert "Traceback" not in refused.stdout + refused.stderr
    assert other not in refused.stdout + refused.stderr
