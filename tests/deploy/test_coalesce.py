"""serve()'s coalescing: small requests ready in the same event-loop iteration are answered
with one call of a row-by-row model (a numeric scikit-learn model), each request getting
exactly its own rows' predictions, its own errors, its own log record; any other model is
called once per request as before."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("uvicorn")
pytest.importorskip("starlette")
pytest.importorskip("sklearn")
pytest.importorskip("skops")

from _asgi import post

from mlopskit.deploy import ModelPackage, PredictionLogger, Predictor, _server, serve
from mlopskit.deploy._server import build_app
from mlopskit.store import ArtifactStore

COLS = ["f0", "f1", "f2", "f3"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> ArtifactStore:
    return ArtifactStore(tmp_path_factory.mktemp("coalesce") / "store")


@pytest.fixture(scope="module")
def sk_predictor(store: ArtifactStore, sk_model: Any, churn_data: Any) -> Predictor:
    X, _ = churn_data
    pkg = ModelPackage.from_model(sk_model, name="churn", store=store, input_example=X.head(5))
    return Predictor(pkg)


@pytest.fixture(scope="module")
def npy_predictor(store: ArtifactStore, churn_data: Any) -> Predictor:
    X, _ = churn_data
    pkg = ModelPackage.from_model(
        np.array([1.0, 2.0, 3.0, 4.0]), name="w", store=store, input_example=X.head(5)
    )
    return Predictor(pkg)


class Spy:
    """Counts a predictor's calls of ``predict_prepared_many`` and the frames in each."""

    def __init__(self, predictor: Predictor, mp: pytest.MonkeyPatch) -> None:
        self.calls: list[int] = []
        real = predictor.predict_prepared_many

        def many(frames: Any, **kw: Any) -> Any:
            self.calls.append(len(frames))
            return real(frames, **kw)

        mp.setattr(predictor, "predict_prepared_many", many)


def rows_body(rows: pd.DataFrame) -> bytes:
    return json.dumps(
        {"dataframe_split": {"columns": list(rows.columns), "data": rows.to_numpy().tolist()}}
    ).encode()


frames_st = st.lists(
    st.lists(
        st.lists(st.floats(-1e3, 1e3, allow_nan=False, width=32), min_size=4, max_size=4),
        min_size=1,
        max_size=4,
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=60, deadline=None)
@given(frames=frames_st, method=st.sampled_from(["predict", "predict_proba"]))
def test_predicting_frames_together_equals_one_by_one(
    sk_predictor: Predictor, sk_model: Any, frames: list[list[list[float]]], method: str
) -> None:
    """Each frame's outputs from one call of the model are the model's own outputs for
    that frame's rows: same values, same shape, in order, no rows crossing frames."""
    conformed = [sk_predictor.prepare(pd.DataFrame(rows, columns=COLS)) for rows in frames]
    together = sk_predictor.predict_prepared_many(conformed, method=method)
    assert together is not None and len(together.outputs) == len(frames)
    assert together.columns == tuple(COLS)
    for frame, out, arr in zip(conformed, together.outputs, together.inputs):
        want = getattr(sk_model, method)(frame)
        assert out.shape == want.shape
        np.testing.assert_allclose(out, want, rtol=1e-12)
        np.testing.assert_array_equal(arr, frame.to_numpy())  # what the log records


def test_only_a_row_by_row_model_is_batchable(
    sk_predictor: Predictor, npy_predictor: Predictor, churn_data: Any
) -> None:
    """A weights-only (npy) model is called per request: it is not batchable and
    predict_prepared_many declines."""
    X, _ = churn_data
    assert sk_predictor.batchable
    assert not npy_predictor.batchable
    assert npy_predictor.predict_prepared_many([npy_predictor.prepare(X.head(2))] * 2) is None


def test_a_round_answers_each_request_as_alone(
    sk_predictor: Predictor, churn_data: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A round mixing good requests of different sizes, a request missing a column, a
    body that is not JSON and a V2 request for an unknown model: one model call for the
    good ones, and every answer (status and body) is what the request gets alone."""
    X, _ = churn_data
    app = build_app(sk_predictor)
    app.state.mlopskit.load()
    handler = app.state.mlopskit.turns.predict_many.__self__
    calls = [
        ("mlflow", rows_body(X.iloc[0:1]), "application/json", None, None, None, "r1"),
        ("mlflow", rows_body(X.iloc[[5, 9, 11]]), "application/json", None, None, None, None),
        (
            "mlflow",
            rows_body(X.iloc[0:2].drop(columns="f2")),
            "application/json",
            None,
            None,
            None,
            None,
        ),
        ("mlflow", b"{not json", "application/json", None, None, None, None),
        ("v2", b'{"inputs": []}', "application/json", "nope", None, None, None),
        ("mlflow", rows_body(X.iloc[100:102]), "application/json", None, None, None, None),
    ]
    alone = [handler.predict(*c) for c in calls]
    spy = Spy(sk_predictor, monkeypatch)
    together = handler.predict_many(calls)
    assert spy.calls == [3]  # the three good requests, in one call
    assert (
        [a.status for a in together] == [a.status for a in alone] == [200, 200, 400, 400, 404, 200]
    )
    assert [a.body for a in together] == [a.body for a in alone]
    assert together[0].headers[_server.REQUEST_ID_HEADER] == "r1"
    assert all(a.variant == "default" for a in together if a.status != 404)


def test_a_model_call_that_fails_falls_back_to_each_request(
    sk_predictor: Predictor, churn_data: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the joint call raises, each request is predicted alone: its answer is its own."""
    X, _ = churn_data
    app = build_app(sk_predictor)
    app.state.mlopskit.load()
    handler = app.state.mlopskit.turns.predict_many.__self__

    def broken(frames: Any, **kw: Any) -> Any:
        raise RuntimeError("joint call failed")

    monkeypatch.setattr(sk_predictor, "predict_prepared_many", broken)
    calls = [
        ("mlflow", rows_body(X.iloc[i : i + 1]), "application/json", None, None, None, None)
        for i in range(3)
    ]
    together = handler.predict_many(calls)
    assert [a.status for a in together] == [200, 200, 200]
    assert [a.body for a in together] == [handler.predict(*c).body for c in calls]


async def _asgi_call(app: Any, client: Any, body: bytes, answers: dict[Any, Any]) -> None:
    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            answers[client] = json.loads(message["body"])

    await post(app, client, body, send)


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(1, 4), min_size=2, max_size=8), start=st.integers(0, 300))
def test_a_burst_gets_each_its_own_rows_predictions(
    sk_predictor: Predictor, sk_model: Any, churn_data: Any, sizes: list[int], start: int
) -> None:
    """Requests of different rows ready in one loop iteration (driven through the ASGI app):
    all but the first are answered by one model call, and each answer is the model's
    prediction of exactly that request's rows."""
    X, _ = churn_data
    chunks = []
    at = start
    for n in sizes:
        chunks.append(X.iloc[at : at + n])
        at += n
    calls: list[int] = []
    real = sk_predictor.predict_prepared_many

    def many(frames: Any, **kw: Any) -> Any:
        calls.append(len(frames))
        return real(frames, **kw)

    async def scenario() -> dict[Any, Any]:
        app = build_app(sk_predictor)
        app.state.mlopskit.load()
        await _asgi_call(app, ("127.0.0.1", 1), rows_body(X.head(1)), {})  # learns its cost
        answers: dict[Any, Any] = {}
        await asyncio.gather(
            *(
                _asgi_call(app, ("127.0.0.1", 100 + i), rows_body(c), answers)
                for i, c in enumerate(chunks)
            )
        )
        return answers

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sk_predictor, "predict_prepared_many", many)
        mp.setattr(_server, "_INLINE_SECONDS", 60.0)  # a loaded machine must not send it
        mp.setattr(_server, "_INLINE_WALL_SECONDS", 60.0)  # to a thread
        answers = asyncio.run(scenario())
    # the first went at once; the rest together (one left is predicted alone)
    assert calls == ([len(sizes) - 1] if len(sizes) > 2 else [])
    for i, c in enumerate(chunks):
        assert answers[("127.0.0.1", 100 + i)] == {"predictions": sk_model.predict(c).tolist()}


def test_concurrent_http_clients_get_their_own_answers_and_log_records(
    sk_predictor: Predictor, sk_model: Any, churn_data: Any, tmp_path: Any
) -> None:
    """Eight keep-alive clients over real HTTP, each sending its own rows: every answer is
    the model's for that client's rows, and every request is logged with its own inputs
    and outputs (whether or not it shared a model call)."""
    X, _ = churn_data
    logger = PredictionLogger(ArtifactStore(tmp_path / "log"), name="coalesce")
    failures: list[str] = []
    with serve(sk_predictor, background=True, logger=logger) as handle:

        def client(k: int) -> None:
            for j in range(40):
                row = X.iloc[(k * 40 + j) % len(X) : (k * 40 + j) % len(X) + 1]
                req = urllib.request.Request(
                    handle.url + "/invocations",
                    data=rows_body(row),
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(req, timeout=30) as resp:
                    got = json.loads(resp.read())
                if got != {"predictions": sk_model.predict(row).tolist()}:
                    failures.append(f"client {k} request {j}: {got}")

        threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert failures == []
    logger.flush()
    rows = logger.read()
    assert len(rows) == 8 * 40  # every request, once (one row each)
    inputs = rows[[f"input.{c}" for c in COLS]].to_numpy()
    np.testing.assert_array_equal(
        rows["output"].to_numpy(), sk_model.predict(pd.DataFrame(inputs, columns=COLS))
    )
    assert rows["request_id"].is_unique


def test_log_arrays_records_what_log_request_records(tmp_path: Any, churn_data: Any) -> None:
    """Requests logged from their arrays read back as the same rows as when each is logged
    from its frame; a length mismatch is refused and buffers nothing; sampling applies to
    each request."""
    from mlopskit.errors import InvalidInputError

    X, _ = churn_data
    chunks = [X.iloc[0:1], X.iloc[1:4], X.iloc[4:6]]
    outs = [np.arange(len(c), dtype=np.int64) for c in chunks]
    ids = ["a", "b", "c"]
    one = PredictionLogger(ArtifactStore(tmp_path / "one"), name="x")
    for c, o, rid in zip(chunks, outs, ids):
        one.log_request(c, o, model="m", variant="v", request_id=rid)
    many = PredictionLogger(ArtifactStore(tmp_path / "many"), name="x")
    with pytest.raises(InvalidInputError):
        many.log_arrays(tuple(COLS), [c.to_numpy() for c in chunks], outs[:2], request_ids=ids)
    assert (
        many.log_arrays(
            tuple(COLS),
            [c.to_numpy() for c in chunks],
            outs,
            request_ids=ids,
            model="m",
            variant="v",
        )
        == 3
    )
    one.flush()
    many.flush()
    a, b = one.read(), many.read()
    cols = ["request_id", "model", "variant", "row", *(f"input.{c}" for c in COLS), "output"]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    none = PredictionLogger(ArtifactStore(tmp_path / "none"), name="x", sample=0.0)
    assert none.log_arrays(tuple(COLS), [X.head(2).to_numpy()], [outs[0]], request_ids=["z"]) == 0
    assert none.dropped == 1
