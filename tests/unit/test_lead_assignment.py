"""Assignment of new leads: round-robin among active reps, territories first, duplicates to
the earlier lead's owner."""

from uuid import uuid4

from domain.sales_team import SalesTeam, next_owner
from tests.unit.builders import META
from tests.unit.lead_builders import rep, team


def owners(sales: SalesTeam, *facts: dict) -> list[str | None]:
    return [sales.take_lead(uuid4(), f"{uuid4()}@example.com", f, META).owner_id for f in facts]


def test_leads_go_round_robin_in_list_order() -> None:
    sales = team(rep("ann"), rep("bob"), rep("cid"))
    assert owners(sales, *[{}] * 7) == ["ann", "bob", "cid", "ann", "bob", "cid", "ann"]


def test_inactive_reps_are_skipped() -> None:
    sales = team(rep("ann"), rep("bob", active=False), rep("cid"))
    assert owners(sales, *[{}] * 4) == ["ann", "cid", "ann", "cid"]


def test_without_active_reps_a_lead_stays_unassigned() -> None:
    assert owners(SalesTeam.start(META), {}) == [None]
    assert owners(team(rep("ann", active=False)), {}) == [None]


def test_a_lead_in_a_territory_goes_to_the_reps_covering_it_in_turn() -> None:
    sales = team(rep("ann", "FR", "BE"), rep("bob"), rep("cid", "fr"))
    fr, us = {"country": "fr"}, {"country": "US"}
    assert owners(sales, fr, us, fr, fr, us) == ["ann", "bob", "cid", "ann", "bob"]


def test_the_territory_attribute_is_configurable() -> None:
    sales = team(rep("ann", "emea"), rep("bob"), territory_attribute="region")
    assert owners(sales, {"region": "EMEA", "country": "US"}, {"country": "emea"}) == [
        "ann",
        "bob",
    ]


def test_a_lead_outside_every_territory_goes_to_reps_without_one_else_to_anyone() -> None:
    assert owners(team(rep("ann", "FR"), rep("bob")), {"country": "JP"}) == ["bob"]
    sales = team(rep("ann", "FR"), rep("bob", "DE"))
    assert owners(sales, {"country": "JP"}, {}, {"country": "JP"}) == ["ann", "bob", "ann"]


def test_turns_are_kept_by_rep_id_when_the_reps_change() -> None:
    sales = team(rep("ann"), rep("bob"))
    owners(sales, {})  # ann
    sales.set_reps((rep("bob"), rep("ann"), rep("cid")), "country", META)
    assert owners(sales, {}, {}, {}) == ["bob", "cid", "ann"]


def test_next_owner_picks_the_rep_who_waited_longest() -> None:
    reps = [rep("ann"), rep("bob"), rep("cid")]
    assert next_owner(reps, {"ann": 3, "bob": 1, "cid": 2}, None) == "bob"
    assert next_owner(reps, {"ann": 3, "cid": 2}, None) == "bob"
    assert next_owner([], {}, "FR") is None


def test_a_duplicate_email_is_reported_and_goes_to_the_earlier_leads_owner() -> None:
    # Given a lead taken in by ann
    sales = team(rep("ann"), rep("bob"))
    first_id = uuid4()
    first = sales.take_lead(first_id, "Grace@Example.com", {}, META)
    # When another lead with the same email (other case) comes in
    again = sales.take_lead(uuid4(), "grace@example.COM ", {}, META)
    # Then it is a duplicate of the first, owned by the same rep; the turn moves on after
    assert (first.owner_id, first.duplicate_of) == ("ann", None)
    assert (again.owner_id, again.duplicate_of) == ("ann", first_id)
    assert owners(sales, {}) == ["bob"]


def test_a_duplicate_of_a_lead_whose_owner_left_takes_the_next_turn() -> None:
    sales = team(rep("ann"), rep("bob"))
    first_id = uuid4()
    sales.take_lead(first_id, "grace@example.com", {}, META)
    sales.set_reps((rep("ann", active=False), rep("bob")), "country", META)
    again = sales.take_lead(uuid4(), "grace@example.com", {}, META)
    assert (again.owner_id, again.duplicate_of) == ("bob", first_id)


def test_the_team_keeps_no_email_in_its_events() -> None:
    sales = team(rep("ann"))
    sales.take_lead(uuid4(), "grace@example.com", {}, META)
    recorded = [e.model_dump_json() for e in sales.collect_events()]
    assert not any("grace" in e for e in recorded)
    assert "email_digest" in recorded[-1]


def test_setting_the_same_reps_records_nothing() -> None:
    sales = team(rep("ann"))
    version = sales.version
    sales.set_reps((rep("ann"),), "country", META)
    assert sales.version == version
