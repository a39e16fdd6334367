"""`crm serve` with no CRM_DATABASE_URL: an embedded PostgreSQL kept under CRM_DATA_DIR."""

from tests.e2e.conftest import crm_env, free_port, start_service


def test_a_restart_keeps_every_customer_and_keys_work_while_it_runs(tmp_path) -> None:
    env = crm_env(data_dir=str(tmp_path / "crm"), port=str(free_port()))
    # Given a first start on an empty store, which prints an admin key
    first = start_service(env)
    try:
        assert first.first_admin_key
        service_key = first.create_key("service")  # while serve runs, same settings
        with first.client(service_key) as api:
            created = api.post("/v1/customers", json={"name": "Grace", "external_ref": "g-1"})
            assert created.status_code == 201
            customer_id = created.json()["id"]
            purchase = {"order_id": "g-1-1", "total": "5.00", "currency": "EUR"}
            assert (
                api.post(f"/v1/customers/{customer_id}/purchases", json=purchase).status_code == 201
            )
    finally:
        first.stop()
    # When it starts again on the same data directory
    second = start_service(env)
    try:
        # Then no new admin key is printed, and everything is still there
        assert second.first_admin_key is None
        with second.client(service_key) as api:
            view = api.get(f"/v1/customers/{customer_id}").json()
            assert (view["name"], view["purchases"]["count"]) == ("Grace", 1)
            assert len(api.get(f"/v1/customers/{customer_id}/timeline").json()["items"]) == 2
    finally:
        status = second.terminate()
    # And a SIGTERM ends it normally, the embedded PostgreSQL stopping with its last user
    assert status == 0
    assert not (tmp_path / "crm" / "postgres" / "postmaster.pid").exists()
