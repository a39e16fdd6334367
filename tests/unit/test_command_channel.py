"""The channel between the API and its command writer: authenticated frames of JSON (no I/O).

Given any sequence of messages framed by the sender, whatever happens to the byte stream on
the way (bytes lost, doubled, reordered, spliced in), the reader yields only payloads the
sender framed, in the sender's order, each whole; at the first fault it raises and yields
nothing more. So a request cut short can never lend its length to the next one's bytes.
"""

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands import wire
from commands.channel import (
    ANSWERS,
    REQUESTS,
    TAG_BYTES,
    ChannelDesync,
    FrameReader,
    FrameWriter,
    new_key,
)
from commands.context import CommandContext, Outcome, Target
from commands.customers import ChangeCustomer, RegisterCustomer
from commands.errors import VersionMismatch
from commands.registry import COMMAND_HANDLERS
from domain.deal import UnknownStage
from domain.errors import InvalidValue

KEY = new_key()
PAYLOADS = st.lists(st.binary(min_size=0, max_size=300), min_size=1, max_size=8)


def framed(payloads: list[bytes], key: bytes = KEY, direction: bytes = REQUESTS) -> list[bytes]:
    writer = FrameWriter(key, direction)
    return [writer.frame(p) for p in payloads]


def read_all(stream: bytes, chunk: int, key: bytes = KEY) -> tuple[list[bytes], bool]:
    """What a reader yields from `stream` fed `chunk` bytes at a time, and if it desynced."""
    reader, got = FrameReader(key, REQUESTS), []
    try:
        for start in range(0, len(stream), chunk):
            got += reader.feed(stream[start : start + chunk])
    except ChannelDesync:
        return got, True
    return got, False


@given(PAYLOADS, st.integers(1, 50))
def test_frames_arrive_whole_and_in_order_however_the_stream_is_cut(payloads, chunk) -> None:
    got, desynced = read_all(b"".join(framed(payloads)), chunk)
    assert (got, desynced) == (payloads, False)


@given(PAYLOADS, st.data())
def test_a_damaged_stream_yields_only_a_prefix_of_what_was_sent(payloads, data) -> None:
    stream = bytearray(b"".join(framed(payloads)))
    start = data.draw(st.integers(0, len(stream) - 1))
    end = data.draw(st.integers(start + 1, min(len(stream), start + 40)))
    damage = data.draw(st.sampled_from(["cut", "double", "splice"]))
    if damage == "cut":  # a frame written in part, then the next ones
        del stream[start:end]
    elif damage == "double":
        stream[end:end] = stream[start:end]
    else:  # bytes of a client's request where a frame's length or body should be
        stream[start:end] = data.draw(st.binary(min_size=end - start, max_size=end - start + 8))
    got, _ = read_all(bytes(stream), data.draw(st.integers(1, 64)))
    assert got == payloads[: len(got)]


def test_a_request_cut_short_never_lends_its_length_to_the_next_one() -> None:
    first, second = framed(
        [b'{"name": "' + b"A" * 5000 + b'"}', b'{"name": "' + b"Z" * 9000 + b'"}']
    )
    cut_short = first[: len(first) // 2]
    got, desynced = read_all(cut_short + second, 4096)
    assert (got, desynced) == ([], True)


def test_frames_of_another_key_or_direction_do_not_verify() -> None:
    for key, direction in ((new_key(), REQUESTS), (KEY, ANSWERS)):
        (frame,) = framed([b"[]"], key, direction)
        with pytest.raises(ChannelDesync):
            FrameReader(KEY, REQUESTS).feed(frame)


def test_an_absurd_length_is_refused_before_any_byte_is_awaited() -> None:
    with pytest.raises(ChannelDesync, match="out of bounds"):
        FrameReader(KEY, REQUESTS).feed(b"\xff\xff\xff\xff")
    with pytest.raises(ChannelDesync, match="out of bounds"):
        FrameReader(KEY, REQUESTS).feed((TAG_BYTES - 1).to_bytes(4, "big"))


CONTEXT = CommandContext(
    actor="svc",
    correlation_id="c-1",
    received_at=datetime(2026, 3, 8, 9, 30, tzinfo=UTC),
    causation_id="r-1",
    idempotency_key="k",
    request_hash="ab" * 32,
    expected_version=3,
)


def round_trip(command, target: Target | None = None):
    target = target or Target(uuid4())
    message = wire.command_message(7, target, command, CONTEXT)
    (received,) = wire.requests(wire.payload([message]))
    assert (received.seq, received.target, received.context) == (7, target, CONTEXT)
    return wire.command_of(received)


@pytest.mark.parametrize(
    "model",
    [
        m
        for m in COMMAND_HANDLERS
        if (m.model_config.get("json_schema_extra") or {}).get("examples")
    ],
    ids=lambda m: m.__name__,
)
def test_every_documented_command_crosses_the_channel_unchanged(model) -> None:
    path_fields = {"customer_id": str(uuid4()), "key": "tier"}  # given in the path, not the body
    for example in model.model_config["json_schema_extra"]["examples"]:  # type: ignore[index]
        missing = {
            k: v for k, v in path_fields.items() if model.model_fields.get(k) and k not in example
        }
        command = model.model_validate(example | missing)
        copy = round_trip(command)
        assert (copy, copy.model_fields_set) == (command, command.model_fields_set)


def test_a_patch_keeps_which_fields_were_given() -> None:
    copy = round_trip(ChangeCustomer.model_validate({"phone": "+33 1 23"}))
    assert copy.model_fields_set == {"phone"}


def test_a_command_is_validated_again_by_the_writer() -> None:
    message = wire.command_message(1, Target(uuid4()), RegisterCustomer(name="Ada"), CONTEXT)
    forged = message.replace(b'"name":"Ada"', b'"name":"Ada","is_admin":true')
    (received,) = wire.requests(wire.payload([forged]))
    with pytest.raises(ValueError, match="is_admin"):
        wire.command_of(received)


def test_no_class_outside_the_refusals_can_be_named() -> None:
    answer = b'{"kind": "refusal", "seq": 1, "refusal": "os.system", "args": ["true"]}'
    ((_, result),) = wire.answers(wire.payload([answer]))
    assert isinstance(result, wire.CommandFailed)


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (Outcome(201, {"id": "x", "version": 1}), Outcome(201, {"id": "x", "version": 1})),
        (VersionMismatch("at version 2"), VersionMismatch("at version 2")),
        (InvalidValue("custom_fields.size", "must be a number"), None),
        (UnknownStage("no stage won"), None),
        (RuntimeError("Ada's email is taken"), wire.CommandFailed),
    ],
)
def test_answers_cross_the_channel_as_their_type(result, expected) -> None:
    ((seq, copy),) = wire.answers(wire.payload([wire.answer(5, result)]))
    assert seq == 5
    if isinstance(expected, type):
        assert isinstance(copy, expected) and "Ada" not in str(copy)
    elif isinstance(result, Outcome):
        assert copy == expected
    else:
        assert type(copy) is type(result) and copy.args == result.args
        assert vars(copy) == vars(result)
