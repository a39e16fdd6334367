"""Configuration over HTTP, read from the settings read model: the sales reps view follows
the team's version (which leads taken in move) and shows only its reps."""

from uuid import uuid4

from tests.e2e.reading import read_at_least


def test_the_sales_reps_etag_is_the_team_s_version_after_leads_are_taken_in(service, keys, api):
    # Given reps set, then a lead taken in by the team (its version moves, not its reps)
    rep = {"id": f"rep-{uuid4().hex[:8]}", "name": "Rep", "active": True, "territories": ["FR"]}
    body = {"reps": [rep], "territory_attribute": "country"}
    with service.client(keys["admin"]) as admin:
        set_up = admin.put("/v1/sales-reps", json=body)
        assert set_up.status_code == 200, set_up.text
        lead = api.post("/v1/leads", json={"name": "Ada", "email": f"{rep['id']}@example.com"})
        assert lead.status_code == 201, lead.text
        # When the view has caught up with the intake
        shown = read_at_least(admin, "/v1/sales-reps", set_up.json()["version"] + 1)
        # Then it shows the reps only, and its ETag is the version If-Match expects
        assert shown.json() == body | {"version": set_up.json()["version"] + 1}
        etag = shown.headers["ETag"]
        again = admin.put("/v1/sales-reps", json=body, headers={"If-Match": etag})
    assert (again.status_code, again.headers["ETag"]) == (200, etag)
