"""The audit log in a real `crm serve`: its auditor signs heads as events are recorded, the
timeline carries proofs that verify against them, and the `crm audit` commands read the same
key and store. Tamper evidence, bundles and a killed auditor: tests/integration/test_audit_log.py."""

import json
import subprocess
from pathlib import Path

import httpx

from infra.audit.merkle import verify_inclusion
from tests.e2e.conftest import CRM, Service
from tests.waiting import wait_for


def test_crm_serve_signs_heads_and_the_timeline_proves_each_event(
    service: Service, keys: dict[str, str], api: httpx.Client, tmp_path: Path
) -> None:
    created = api.post("/v1/customers", json={"name": "Ada", "email": "ada-audit@example.com"})
    customer = created.json()["id"]
    with service.client(keys["auditor"]) as auditor:
        timeline = f"/v1/customers/{customer}/timeline"
        (event,) = auditor.get(timeline).json()["items"]

        def signed() -> bool:
            head = auditor.get("/v1/audit/tree-heads/latest")
            return head.status_code == 200 and head.json()["tree_size"] >= event["position"]

        wait_for(signed)
        head = auditor.get("/v1/audit/tree-heads/latest").json()
        (item,) = auditor.get(timeline, params={"proofs": "true"}).json()["items"]
        proof = auditor.get("/v1/audit/proofs/inclusion", params={"position": item["position"]})
        public_key = auditor.get("/v1/audit/public-key").json()
    path = [bytes.fromhex(h) for h in item["proof"]["audit_path"]]
    leaf = bytes.fromhex(proof.json()["leaf_hash"])
    root = bytes.fromhex(head["root_hash"])
    assert verify_inclusion(item["proof"]["leaf_index"], head["tree_size"], leaf, path, root)
    printed = _crm(service, "audit", "public-key", "--json")
    assert json.loads(printed.stdout) == public_key
    verified = _crm(service, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "Verified" in verified.stdout
    bundle = tmp_path / "bundle.json"
    exported = _crm(service, "audit", "export", "--customer", customer, "--output", str(bundle))
    assert exported.returncode == 0, exported.stderr
    key = public_key["public_key"]
    checked = _crm(service, "audit", "verify-bundle", str(bundle), "--public-key", key)
    assert checked.returncode == 0, checked.stderr


def _crm(service: Service, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CRM, *args], env=service.env, capture_output=True, text=True, check=False
    )
