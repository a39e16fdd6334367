"""Reading read models over HTTP: they follow the event store, so a read waits for a write."""

import httpx

from tests.waiting import wait_for


def read_at_least(api: httpx.Client, path: str, version: int = 1, **params) -> httpx.Response:
    """GETs `path` until it answers 200 with an ETag version of at least `version`.

    A command's answer carries the version it recorded; the read models show it a few
    milliseconds later (the projector's lag), so a test reading its own write waits for it.
    """
    answers: list[httpx.Response] = []

    def caught_up() -> bool:
        answers.append(api.get(path, params=params))
        etag = answers[-1].headers.get("ETag", '"0"').strip('"')
        return answers[-1].status_code == 200 and int(etag) >= version

    wait_for(caught_up)
    return answers[-1]
