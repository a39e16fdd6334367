"""The customer's rule on repeated tracking hits: at most one open of each kind (a person's, a
machine's) per campaign, and one click per campaign and link, in each dedupe window; the
window counts from the last one recorded, in business time; a replay of the events ends in
the same state."""

from datetime import datetime, timedelta
from uuid import UUID, uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from commands.campaigns import RecordEmailClick, RecordEmailOpen
from domain.customer import Customer
from domain.email_delivery import machine_open, repeated
from tests.unit.builders import META, customer
from tests.unit.handling import handle
from tests.unit.recorded import replayed

SENT_AT = META.occurred_at
HOUR = timedelta(hours=1)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
APPLE_PROXY = "Mozilla/5.0"
LINKS = ("https://shop.example.com/spring", "https://blog.example.com/news")


def at(minutes: float):
    return META.model_copy(update={"occurred_at": SENT_AT + timedelta(minutes=minutes)})


def sent_to(*campaigns: UUID, keep_events: bool = False) -> Customer:
    """Ada, sent the campaigns' emails with LINKS; her events so far collected unless kept."""
    ada = customer(email="ada@example.com", consent={"email_marketing": True})
    for campaign_id in campaigns:
        ada.record_email_send(campaign_id, f"<{campaign_id}@crm>", LINKS, META)
    if not keep_events:
        ada.collect_events()
    return ada


def recorded(ada: Customer) -> list[tuple[str, datetime]]:
    return [(type(e).__name__, e.meta.occurred_at) for e in ada.collect_events()]


def test_repeated_counts_from_the_last_one_recorded() -> None:
    last = datetime(2026, 1, 5, 9, 0)
    assert not repeated(None, last, HOUR)
    assert repeated(last, last, HOUR)
    assert repeated(last, last + HOUR - timedelta(microseconds=1), HOUR)
    assert not repeated(last, last + HOUR, HOUR)
    assert repeated(last, last - timedelta(days=1), HOUR)  # a late copy of an earlier hit
    assert not repeated(last, last, timedelta(0))


def test_replays_of_an_open_within_the_window_record_one_open() -> None:
    campaign_id = uuid4()
    ada = sent_to(campaign_id)
    for second in range(300):
        ada.record_email_open(campaign_id, BROWSER, at(5 + second / 60), window=HOUR)
    assert recorded(ada) == [("EmailOpened", at(5).occurred_at)]
    ada.record_email_open(campaign_id, BROWSER, at(5 + 59), window=HOUR)
    assert recorded(ada) == []
    ada.record_email_open(campaign_id, BROWSER, at(5 + 60), window=HOUR)
    assert recorded(ada) == [("EmailOpened", at(65).occurred_at)]


def test_a_machine_open_never_hides_a_persons_open() -> None:
    # Given an email Apple's proxy fetched on delivery, and again
    campaign_id = uuid4()
    ada = sent_to(campaign_id)
    ada.record_email_open(campaign_id, APPLE_PROXY, at(0), window=HOUR)
    ada.record_email_open(campaign_id, APPLE_PROXY, at(1), window=HOUR)
    # When Ada opens it herself, twice, within the hour
    ada.record_email_open(campaign_id, BROWSER, at(2), window=HOUR)
    ada.record_email_open(campaign_id, BROWSER, at(3), window=HOUR)
    # Then one machine open and one person's open are recorded
    opens = [(e.machine, e.meta.occurred_at) for e in ada.collect_events()]
    assert opens == [(True, at(0).occurred_at), (False, at(2).occurred_at)]


def test_clicks_are_counted_per_link_and_campaign_and_always_answer_the_url() -> None:
    spring, summer = uuid4(), uuid4()
    ada = sent_to(spring, summer)
    urls = [
        ada.record_email_click(spring, 0, at(10), window=HOUR),
        ada.record_email_click(spring, 0, at(11), window=HOUR),
        ada.record_email_click(spring, 1, at(12), window=HOUR),
        ada.record_email_click(summer, 0, at(13), window=HOUR),
        ada.record_email_click(spring, 1, at(14), window=HOUR),
    ]
    assert urls == [LINKS[0], LINKS[0], LINKS[1], LINKS[0], LINKS[1]]
    clicks = [(e.campaign_id, e.link_index) for e in ada.collect_events()]
    assert clicks == [(spring, 0), (spring, 1), (summer, 0)]


def test_opens_and_clicks_of_one_campaign_do_not_hide_each_other() -> None:
    campaign_id = uuid4()
    ada = sent_to(campaign_id)
    ada.record_email_open(campaign_id, BROWSER, at(5), window=HOUR)
    ada.record_email_click(campaign_id, 0, at(5), window=HOUR)
    assert [name for name, _ in recorded(ada)] == ["EmailOpened", "EmailClicked"]


def test_a_zero_window_records_every_hit() -> None:
    campaign_id = uuid4()
    ada = sent_to(campaign_id)
    for _ in range(3):
        ada.record_email_open(campaign_id, BROWSER, at(5), window=timedelta(0))
        ada.record_email_click(campaign_id, 0, at(5), window=timedelta(0))
    assert len(recorded(ada)) == 6


def test_the_commands_carry_the_window_to_the_rule() -> None:
    campaign_id = uuid4()
    ada = sent_to(campaign_id)
    open_ = RecordEmailOpen(campaign_id=campaign_id, user_agent=BROWSER, dedupe_seconds=60)
    click = RecordEmailClick(campaign_id=campaign_id, link_index=1, dedupe_seconds=60)
    for minute in (5, 5.5, 6):
        handle(open_, ada, meta=at(minute))
        answer = handle(click, ada, meta=at(minute)).answer
        assert answer == {"url": LINKS[1]}
    assert recorded(ada) == [
        ("EmailOpened", at(5).occurred_at), ("EmailClicked", at(5).occurred_at),
        ("EmailOpened", at(6).occurred_at), ("EmailClicked", at(6).occurred_at),
    ]  # fmt: skip


KINDS = ("person", "machine", "click 0", "click 1")
hits = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        st.integers(0, 1),  # which of two campaigns
        st.integers(0, 6 * 3600),  # seconds after the send
    ),
    max_size=40,
)


@settings(max_examples=300)
@given(hits, st.integers(0, 2 * 3600), st.booleans())
def test_at_most_one_per_window_and_key_and_replays_agree(hits, window_seconds, ordered) -> None:
    # Given tracking hits of two campaigns' emails, in order of time or not
    campaigns = (uuid4(), uuid4())
    window = timedelta(seconds=window_seconds)
    ada = sent_to(*campaigns, keep_events=True)
    if ordered:
        hits = sorted(hits, key=lambda hit: hit[2])
    # When each is handled with the window
    decided: list[tuple[tuple, datetime]] = []
    for kind, which, seconds in hits:
        meta = META.model_copy(update={"occurred_at": SENT_AT + timedelta(seconds=seconds)})
        campaign_id = campaigns[which]
        if kind.startswith("click"):
            ada.record_email_click(campaign_id, int(kind[-1]), meta, window=window)
            key: tuple = (campaign_id, kind)
        else:
            agent = BROWSER if kind == "person" else APPLE_PROXY
            ada.record_email_open(campaign_id, agent, meta, window=window)
            key = (campaign_id, machine_open(agent, SENT_AT, meta.occurred_at) is not None)
        decided.append((key, meta.occurred_at))
    history = ada.collect_events()
    events = history[1 + len(campaigns) :]  # after Registered and the EmailSent events
    # Then, for each key, what is recorded are the hits no recorded one came less than a
    # window before (in the order handled): the first always, no two within a window
    last: dict[tuple, datetime] = {}
    expected = []
    for key, when in decided:
        if key not in last or not window or when - last[key] >= window:
            expected.append(when)
            last[key] = max(last.get(key, when), when)
    assert [e.meta.occurred_at for e in events] == expected
    by_key: dict[tuple, list[datetime]] = {}
    for e in events:
        kind = e.machine if type(e).__name__ == "EmailOpened" else f"click {e.link_index}"
        by_key.setdefault((e.campaign_id, kind), []).append(e.meta.occurred_at)
    assert set(by_key) == {key for key, _ in decided}
    for times in by_key.values() if window else ():
        assert all(b - a >= window for a, b in zip(times, times[1:], strict=False))
    # And replaying the stored events gives the live state
    replayed_ada = replayed(history)
    assert state(replayed_ada) == state(ada)
    assert replayed_ada.last_opens == ada.last_opens
    assert replayed_ada.last_clicks == ada.last_clicks


def state(aggregate: Customer) -> dict:
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}
