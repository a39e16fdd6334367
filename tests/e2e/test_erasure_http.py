"""Erasure and export over HTTP: who may call them, what they answer, and a customer erased
refusing every later command (410) while the 360 view reads blank."""

from tests.e2e.reading import read_at_least
from tests.e2e.test_customers_http import PROBLEM, purchase, register


def test_a_customer_is_exported_then_erased_and_nothing_more_is_recorded_about_them(
    service, keys, api
) -> None:
    # Given a customer with a ticket
    customer_id = register(api, email="ada@example.com", external_ref="erase-e2e")
    opened = api.post(
        f"/v1/customers/{customer_id}/complaints",
        json={"subject": "Ada's kettle", "description": "Broken", "channel": "email"},
    )
    assert opened.status_code == 201, opened.text
    ticket_id = opened.json()["id"]
    with service.client(keys["auditor"]) as auditor, service.client(keys["admin"]) as admin:
        # When an auditor exports the customer's data
        exported = auditor.get(f"/v1/customers/{customer_id}/export")
        # Then it holds the profile and every event, decrypted, in order
        assert exported.status_code == 200, exported.text
        document = exported.json()
        assert document["profile"]["email"] == "ada@example.com"
        assert [e["type"] for e in document["events"]] == ["Customer.Registered", "Ticket.Opened"]
        assert document["events"][1]["data"]["subject"] == "Ada's kettle"
        assert exported.headers["Cache-Control"] == "no-store"
        # And only auditors and admins may export, only admins erase, with a reason
        assert api.get(f"/v1/customers/{customer_id}/export").status_code == 403
        erasure = f"/v1/customers/{customer_id}/erasure"
        assert api.post(erasure, json={"reason": "asked"}).status_code == 403
        refused = admin.post(erasure, json={"reason": " "})
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "reason"
        # When an admin erases the customer
        erased = admin.post(erasure, json={"reason": "GDPR art. 17, request 7"})
        # Then the answer is the customer's new version
        assert erased.status_code == 200, erased.text
        assert erased.json() == {"id": customer_id, "version": 2}
        # And erasing again, any command on the customer or their ticket, is a 410
        again = admin.post(erasure, json={"reason": "again"})
        for refused in (
            again,
            api.post(f"/v1/customers/{customer_id}/purchases", json=purchase()),
            api.post(f"/v1/tickets/{ticket_id}/replies", json={"author": "agent", "body": "Hi"}),
        ):
            assert refused.status_code == 410, refused.text
            assert refused.headers["content-type"] == PROBLEM
            assert refused.json()["type"] == "/problems/customer-erased"
        # And the export is a 410 saying when and why
        gone = auditor.get(f"/v1/customers/{customer_id}/export")
        assert gone.status_code == 410
        assert gone.json()["reason"] == "GDPR art. 17, request 7"
        assert gone.json()["erased_at"]
    # And the 360 view reads blank once the read model caught up
    view = read_at_least(api, f"/v1/customers/{customer_id}", 2).json()
    assert (view["name"], view.get("email")) == ("", None)
    # And the external reference is free again
    register(api, external_ref="erase-e2e")
