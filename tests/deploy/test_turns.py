"""serve()'s turns: prediction requests whose bodies complete in the same event-loop
iteration are answered least recently answered connection first (the connection answered
last in a round would otherwise wait behind the whole next round), and a request alone
never waits for a turn. Driven through the ASGI app itself, so the loop's order is exact."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("uvicorn")
pytest.importorskip("starlette")

from _asgi import post

import mlopskit as mk
from mlopskit.deploy import (
    Predictor,
    _server,
)
from mlopskit.deploy._server import build_app

ROWS = pd.DataFrame({"a": [1.0, 2.0], "b": [0.5, 1.5]})
BODY = json.dumps({"inputs": {"a": [1.0, 2.0], "b": [0.5, 1.5]}}).encode()


@pytest.fixture(scope="module")
def predictor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Predictor]:
    """The model, and every prediction on the event loop once its cost is known: a
    prediction that a loaded machine makes slow would otherwise go to a thread, where
    answers finish in any order (a thread's order is not what is tested here)."""
    root = tmp_path_factory.mktemp("turns") / "ws"
    with mk.Workspace(root):
        mk.registry.register("t", np.array([2.0, 1.0]), input_example=ROWS)
        mk.registry.set_alias("t", "champion", 1)
        predictor = Predictor("t@champion")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_server, "_INLINE_SECONDS", 60.0)
        mp.setattr(_server, "_INLINE_WALL_SECONDS", 60.0)
        yield predictor


def new_app(predictor: Predictor) -> Any:
    app = build_app(predictor)
    app.state.mlopskit.load()  # what the lifespan does
    return app


async def call(app: Any, client: Any, answered: list[Any]) -> None:
    """One POST /invocations from connection ``client``; its status goes to ``answered``
    when the app starts its response."""

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 200
            answered.append(client)
        elif message["type"] == "http.response.body":
            assert json.loads(message["body"]) == {"predictions": [2.5, 5.5]}

    await post(app, client, BODY, send)


async def alone(app: Any, client: Any, answered: list[Any]) -> None:
    """One request in its own task, as uvicorn runs each: it starts in a loop iteration of
    its own, so nothing else is ready with it."""
    await asyncio.ensure_future(call(app, client, answered))


def conn(i: int) -> tuple[str, int]:
    return ("127.0.0.1", 50_000 + i)


async def warm(app: Any) -> None:
    """A first request: the app learns a prediction's cost on a thread, and predicts on
    its event loop from then on; only then is its answer order the loop's."""
    await alone(app, ("127.0.0.1", 1), [])
    assert app.state.mlopskit.cost is not None


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    n=st.integers(min_value=2, max_value=6),
)
def test_requests_ready_together_go_least_recently_answered_first(
    predictor: Predictor, data: st.DataObject, n: int
) -> None:
    """A burst of requests ready in one iteration: the first goes at once (nothing told it
    others were coming); the rest, and every request of the next burst, go in the order
    their connections were last answered. A request alone ends the ordering."""
    first_order = data.draw(st.permutations(range(n)), label="answered one by one")
    bursts = [data.draw(st.permutations(range(n)), label=f"burst {k}") for k in range(3)]

    async def scenario() -> None:
        app = new_app(predictor)
        await warm(app)
        last: dict[int, int] = {}  # connection -> when it was last answered
        clock = 0

        def answered_in(order: list[Any]) -> None:
            nonlocal clock
            for client in order:
                clock += 1
                last[client[1] - 50_000] = clock

        for i in first_order:  # one at a time: each goes at once
            got: list[Any] = []
            await alone(app, conn(i), got)
            assert got == [conn(i)]
            answered_in(got)

        def ranked(ids: list[int]) -> list[tuple[str, int]]:
            return [conn(i) for i in sorted(ids, key=lambda i: last[i])]

        # burst 0: the first is not held; the rest are ordered
        got = []
        await asyncio.gather(*(call(app, conn(i), got) for i in bursts[0]))
        assert got == [conn(bursts[0][0]), *ranked(bursts[0][1:])]
        answered_in(got)
        # burst 1: the ordering holds from the last burst, for every request
        got = []
        await asyncio.gather(*(call(app, conn(i), got) for i in bursts[1]))
        assert got == ranked(bursts[1])
        answered_in(got)
        # a request alone ends it: the next burst's first goes at once again
        got = []
        await alone(app, conn(bursts[1][0]), got)
        answered_in(got)
        got = []
        await asyncio.gather(*(call(app, conn(i), got) for i in bursts[2]))
        assert got == [conn(bursts[2][0]), *ranked(bursts[2][1:])]

    asyncio.run(scenario())


def test_a_connection_never_answered_goes_first(predictor: Predictor) -> None:
    """A new connection (nothing answered on it yet) is ahead of every connection that
    was answered before."""

    async def scenario() -> None:
        app = new_app(predictor)
        await warm(app)
        for i in (1, 2):
            await alone(app, conn(i), [])
        got: list[Any] = []
        await asyncio.gather(*(call(app, conn(i), got) for i in (1, 2, 9, 3)))
        assert got == [conn(1), conn(9), conn(3), conn(2)]

    asyncio.run(scenario())


def test_a_request_cancelled_waiting_its_turn_holds_up_no_other(predictor: Predictor) -> None:
    """A request whose task is cancelled while it waits for its turn (its client went
    away, or the server stops) leaves the others answered, and the app answers after."""

    async def scenario() -> None:
        app = new_app(predictor)
        await warm(app)
        got: list[Any] = []
        tasks = [asyncio.ensure_future(call(app, conn(i), got)) for i in range(4)]
        await asyncio.sleep(0)  # every task has run to its turn (the first is answered)
        assert got == [conn(0)]
        tasks[2].cancel()
        done = await asyncio.gather(*tasks, return_exceptions=True)
        assert isinstance(done[2], asyncio.CancelledError)
        assert sorted(got) == [conn(0), conn(1), conn(3)]
        later: list[Any] = []
        await alone(app, conn(2), later)
        assert later == [conn(2)]
        assert app.state.mlopskit.turns.batch is None

    asyncio.run(scenario())


def test_an_app_served_by_a_new_loop_is_not_held_by_the_old_one(predictor: Predictor) -> None:
    """A loop that stopped with requests waiting for their turn (the server stopped) leaves
    nothing behind: the same app served by a new loop answers at once."""
    app = new_app(predictor)
    asyncio.run(warm(app))  # its thread ends with that loop; the loop below starts none

    async def two_waiting() -> None:
        turns = app.state.mlopskit.turns
        asyncio.get_running_loop().stop()  # after this iteration: what it schedules never runs
        assert turns.take(("127.0.0.1", 1)) is None
        assert turns.take(("127.0.0.1", 2)) is not None  # waits for a release never run

    old = asyncio.new_event_loop()
    try:
        old.run_until_complete(two_waiting())
    finally:
        old.close()
    assert app.state.mlopskit.turns.batch  # left behind by the stopped loop

    async def later() -> list[Any]:
        got: list[Any] = []
        await asyncio.wait_for(
            asyncio.gather(*(call(app, conn(i), got) for i in (1, 2, 3))), timeout=30
        )
        return got

    assert sorted(asyncio.run(later())) == [conn(1), conn(2), conn(3)]


def test_any_asgi_client_value_is_served(predictor: Predictor) -> None:
    """ASGI lets a server give the client as a list, or not at all: both are answered,
    a list taking its turn as the same connection as the tuple."""

    async def scenario() -> None:
        app = new_app(predictor)
        await warm(app)
        got: list[Any] = []
        await alone(app, ["127.0.0.1", 50_001], got)
        await alone(app, None, got)
        assert got == [["127.0.0.1", 50_001], None]
        assert app.state.mlopskit.turns.answered.keys() >= {("127.0.0.1", 50_001), None}

    asyncio.run(scenario())


def test_memory_of_connections_is_bounded(predictor: Predictor) -> None:
    """A server that sees many connections remembers at most a bounded number of them."""
    turns = new_app(predictor).state.mlopskit.turns
    for i in range(turns._MAX_CONNECTIONS + 10):
        turns.done(("10.0.0.1", i))
    assert len(turns.answered) <= turns._MAX_CONNECTIONS
