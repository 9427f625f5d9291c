"""serve(): OIP V2, MLflow/SageMaker and Prometheus contracts over real HTTP, from servers
started in subprocesses on 127.0.0.1 ephemeral ports and stopped by pid."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("starlette")
httpx = pytest.importorskip("httpx")

from _servers import ServerProcess, start_server  # noqa: E402

import mlopskit as mk  # noqa: E402
from mlopskit.deploy import Predictor, serve  # noqa: E402

ROWS = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.5, 1.5, -1.0]})
EXPECTED = [2.5, 5.5, 5.0]  # 2a + b
CANARY = [15.0, 35.0, 20.0]  # 10a + 10b


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with model ``w``: v1 (2a + b) is the champion, v2 (10a + 10b) the canary."""
    root = tmp_path_factory.mktemp("serve") / "ws"
    with mk.Workspace(root):
        mk.registry.register("w", np.array([2.0, 1.0]), input_example=ROWS.head(2))
        mk.registry.register("w", np.array([10.0, 10.0]), input_example=ROWS.head(2))
        mk.registry.set_alias("w", "champion", 1)
        mk.registry.set_alias("w", "canary", 2)
    return root


@pytest.fixture(scope="module")
def server(workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The champion served by a subprocess, logging every prediction."""
    log = tmp_path_factory.mktemp("logs") / "server.log"
    spec = {
        "workspace": str(workspace),
        "target": {"uri": "w@champion"},
        "logger": {"name": "served", "max_rows": 1_000_000},
    }
    with start_server(spec, log) as proc:
        yield proc


@pytest.fixture
def client(server: ServerProcess) -> Iterator[Any]:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def csv_body(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


MLFLOW_BODIES = {
    "dataframe_split": {"dataframe_split": json.loads(ROWS.to_json(orient="split", index=False))},
    "dataframe_records": {"dataframe_records": ROWS.to_dict(orient="records")},
    "instances": {"instances": ROWS.to_dict(orient="records")},
    "inputs": {"inputs": {"a": ROWS["a"].tolist(), "b": ROWS["b"].tolist()}},
}


def v2_body(frame: pd.DataFrame, **extra: Any) -> dict[str, Any]:
    inputs = [
        {"name": c, "shape": [len(frame)], "datatype": "FP64", "data": frame[c].tolist()}
        for c in frame.columns
    ]
    return {"inputs": inputs, **extra}


class TestHealth:
    def test_health_endpoints(self, client: Any) -> None:
        """Liveness, readiness, /ping, /health, /version and server metadata answer 200."""
        assert client.get("/v2/health/live").json() == {"live": True}
        assert client.get("/v2/health/ready").json() == {"ready": True}
        assert client.get("/ping").status_code == 200
        assert client.get("/health").status_code == 200
        assert client.get("/version").text == mk.__version__
        assert client.get("/v2").json()["name"] == "mlopskit"

    def test_model_metadata_and_ready(self, client: Any) -> None:
        """Model metadata lists the signature's inputs; per-model and per-version ready."""
        meta = client.get("/v2/models/w").json()
        assert meta["name"] == "w"
        assert meta["versions"] == ["1"]
        assert [(i["name"], i["datatype"]) for i in meta["inputs"]] == [
            ("a", "FP64"),
            ("b", "FP64"),
        ]
        assert client.get("/v2/models/w/versions/1").json()["name"] == "w"
        assert client.get("/v2/models/w/ready").json() == {"name": "w", "ready": True}
        assert client.get("/v2/models/w/versions/1/ready").status_code == 200

    def test_unknown_model_or_version_is_404_json(self, client: Any) -> None:
        """Unknown models, versions, paths and methods answer 4xx with a JSON error."""
        for path in ["/v2/models/nope", "/v2/models/w/versions/9", "/v2/models/nope/ready"]:
            r = client.get(path)
            assert r.status_code == 404
            assert "error" in r.json()
        r = client.post("/v2/models/nope/infer", json=v2_body(ROWS))
        assert r.status_code == 404
        assert "nope" in r.json()["error"]
        assert client.get("/no/such/path").status_code == 404
        r = client.get("/invocations")
        assert r.status_code == 405
        assert r.json()["error_code"] == "ENDPOINT_NOT_FOUND"


class TestMlflowContract:
    @pytest.mark.parametrize("shape", sorted(MLFLOW_BODIES))
    def test_json_shapes(self, client: Any, shape: str) -> None:
        """Each of MLflow's four JSON shapes gives ``{"predictions": [...]}`` and the variant."""
        r = client.post("/invocations", json=MLFLOW_BODIES[shape])
        assert r.status_code == 200, r.text
        assert r.json() == {"predictions": EXPECTED}
        assert r.headers["x-mlopskit-variant"] == "default"
        assert r.headers["x-request-id"]

    def test_csv_equals_json(self, client: Any) -> None:
        """CSV and JSON of the same rows give the same predictions (MLflow #5525)."""
        r = client.post(
            "/invocations", content=csv_body(ROWS), headers={"content-type": "text/csv"}
        )
        assert r.status_code == 200, r.text
        assert r.json() == {"predictions": EXPECTED}

    def test_request_id_is_echoed(self, client: Any) -> None:
        """A caller's X-Request-Id comes back on the answer."""
        r = client.post(
            "/invocations", json=MLFLOW_BODIES["inputs"], headers={"x-request-id": "abc-123"}
        )
        assert r.headers["x-request-id"] == "abc-123"


class TestV2Contract:
    def test_infer_echoes_id(self, client: Any) -> None:
        """V2 infer answers the model name, version, id and typed output tensors."""
        r = client.post("/v2/models/w/infer", json=v2_body(ROWS, id="req-7"))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["id"] == "req-7"
        assert body["model_name"] == "w"
        assert body["model_version"] == "1"
        (out,) = body["outputs"]
        assert out["datatype"] == "FP64"
        assert out["shape"][0] == 3
        assert out["data"] == EXPECTED
        assert body["parameters"]["variant"] == "default"

    def test_infer_by_version_and_one_tensor(self, client: Any) -> None:
        """``/versions/1/infer`` answers; one [n, 2] tensor is read in signature order."""
        body = {
            "inputs": [
                {
                    "name": "x",
                    "shape": [3, 2],
                    "datatype": "FP64",
                    "data": ROWS.to_numpy().ravel().tolist(),
                }
            ]
        }
        r = client.post("/v2/models/w/versions/1/infer", json=body)
        assert r.status_code == 200, r.text
        assert r.json()["outputs"][0]["data"] == EXPECTED

    def test_asked_outputs_only(self, client: Any) -> None:
        """Asking for an output by name returns only that output."""
        r = client.post(
            "/v2/models/w/infer", json=v2_body(ROWS, outputs=[{"name": "nothing-like-it"}])
        )
        assert r.status_code == 200
        assert r.json()["outputs"] == []

    def test_any_id_is_echoed_in_the_body_and_safely_in_the_header(self, client: Any) -> None:
        """An id HTTP headers cannot carry (non-latin-1 text, a line break) still gets a
        200 with the id exact in the body, and a header with no line break in it."""
        rid = "r\u20ac-1\r\nset-cookie: x=1"
        r = client.post("/v2/models/w/infer", json=v2_body(ROWS, id=rid))
        assert r.status_code == 200, r.text
        assert r.json()["id"] == rid
        header = r.headers["x-request-id"]
        assert header.startswith("r") and "\n" not in header and "\r" not in header
        assert "set-cookie" not in r.headers

    def test_unknown_model_paths_and_methods(self, client: Any) -> None:
        """Prediction paths answer 404 for a model or version not served, a 4xx for a
        malformed version path and 405 for GET, each with the protocol's JSON error."""
        r = client.post("/v2/models/nope/infer", json=v2_body(ROWS))
        assert r.status_code == 404
        assert "nope" in r.json()["error"]
        r = client.post("/v2/models/w/versions/9/infer", json=v2_body(ROWS))
        assert r.status_code == 404
        r = client.post("/v2/models/w/versions/infer", json=v2_body(ROWS))
        assert 400 <= r.status_code < 500  # the metadata path of version "infer": 405
        assert set(r.json()) == {"error"}
        r = client.get("/invocations")
        assert r.status_code == 405
        assert r.json()["error_code"] == "ENDPOINT_NOT_FOUND"
        r = client.get("/v2/models/w/infer")
        assert r.status_code == 405
        assert set(r.json()) == {"error"}


BAD_MLFLOW = {
    "missing column": ({"dataframe_records": [{"a": 1.0}]}, "application/json"),
    "string in a float column": (
        {"dataframe_records": [{"a": "x", "b": 1.0}]},
        "application/json",
    ),
    "two shapes": ({"inputs": [[1.0, 2.0]], "instances": [[1.0, 2.0]]}, "application/json"),
    "not json": (b"{not json", "application/json"),
    "empty body": (b"", "application/json"),
    "a list": ([1, 2, 3], "application/json"),
    "bad csv": (b"a,b\n1,zz\n", "text/csv"),
    "unsupported type": (b"a=1", "application/x-www-form-urlencoded"),
}
BAD_V2 = {
    "no inputs": {"id": "x"},
    "shape mismatch": {"inputs": [{"name": "a", "shape": [5], "datatype": "FP64", "data": [1.0]}]},
    "unknown datatype": {
        "inputs": [{"name": "a", "shape": [1], "datatype": "FP128", "data": [1.0]}]
    },
    "missing column": {"inputs": [{"name": "a", "shape": [1], "datatype": "FP64", "data": [1.0]}]},
    "string data": {
        "inputs": [
            {"name": "a", "shape": [1], "datatype": "BYTES", "data": ["x"]},
            {"name": "b", "shape": [1], "datatype": "FP64", "data": [1.0]},
        ]
    },
    "wrong feature count": {
        "inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1.0, 2.0, 3.0]}]
    },
}


class TestBadInput:
    @pytest.mark.parametrize("case", sorted(BAD_MLFLOW))
    def test_mlflow_bad_input_is_4xx_json(self, client: Any, case: str) -> None:
        """Bad /invocations input answers 4xx with MLflow's JSON error, never a 500."""
        body, content_type = BAD_MLFLOW[case]
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        r = client.post("/invocations", content=content, headers={"content-type": content_type})
        assert 400 <= r.status_code < 500, r.text
        err = r.json()
        assert err["error_code"] in {"BAD_REQUEST", "INVALID_PARAMETER_VALUE"}
        assert err["message"]

    @pytest.mark.parametrize("case", sorted(BAD_V2))
    def test_v2_bad_input_is_4xx_json(self, client: Any, case: str) -> None:
        """Bad V2 input answers 4xx with ``{"error": ...}``, never a 500 (MLServer answers
        500 to a wrong feature count)."""
        r = client.post("/v2/models/w/infer", json=BAD_V2[case])
        assert 400 <= r.status_code < 500, r.text
        assert set(r.json()) == {"error"}

    def test_schema_error_names_the_column(self, client: Any) -> None:
        """A missing column is named in the error, and the error says what was expected."""
        r = client.post("/invocations", json={"dataframe_records": [{"a": 1.0}]})
        assert r.status_code == 400
        assert "'b'" in r.json()["message"]
        assert r.json()["error_class"] == "SCHEMA_ENFORCEMENT_FAILED"

    def test_errors_do_not_echo_values_by_default(self, client: Any) -> None:
        """An error does not quote the caller's values unless echo is configured."""
        secret = "s3cr3t-value-42"
        r = client.post("/invocations", json={"dataframe_records": [{"a": secret, "b": 1.0}]})
        assert r.status_code == 400
        assert secret not in r.text

    def test_server_still_answers_after_bad_input(self, client: Any) -> None:
        """Bad requests change nothing: the next good request is answered."""
        client.post("/invocations", content=b"garbage")
        assert client.post("/invocations", json=MLFLOW_BODIES["inputs"]).status_code == 200


class TestMetrics:
    def test_scrape_counts_equal_requests(self, server: ServerProcess) -> None:
        """A /metrics scrape, parsed with prometheus_client, counts exactly the prediction
        requests made since the last scrape, by outcome."""
        from prometheus_client.parser import text_string_to_metric_families

        def counts(c: Any) -> dict[str, float]:
            text = c.get("/metrics").text
            out: dict[str, float] = {}
            for family in text_string_to_metric_families(text):
                if family.name == "mlopskit_requests":
                    for s in family.samples:
                        if s.name == "mlopskit_requests_total":
                            key = s.labels["outcome"]
                            out[key] = out.get(key, 0.0) + s.value
            return out

        with httpx.Client(base_url=server.url, timeout=30) as c:
            before = counts(c)
            for _ in range(7):
                assert c.post("/invocations", json=MLFLOW_BODIES["inputs"]).status_code == 200
            for _ in range(3):
                assert c.post("/v2/models/w/infer", json={"bad": 1}).status_code == 400
            c.get("/v2/health/ready")  # not a prediction: not counted
            after = counts(c)
        assert after.get("ok", 0) - before.get("ok", 0) == 7
        assert after.get("client_error", 0) - before.get("client_error", 0) == 3

    def test_content_negotiation(self, client: Any) -> None:
        """The exposition format follows Accept: text with a version, or OpenMetrics."""
        plain = client.get("/metrics")
        assert plain.headers["content-type"].startswith("text/plain")
        assert "version=" in plain.headers["content-type"]
        om = client.get("/metrics", headers={"accept": "application/openmetrics-text"})
        assert om.headers["content-type"].startswith("application/openmetrics-text")
        assert om.text.rstrip().endswith("# EOF")

    def test_latency_histogram_and_gauges(self, client: Any) -> None:
        """The latency histogram, the in-flight gauge and the ready gauge are exported."""
        from prometheus_client.parser import text_string_to_metric_families

        client.post("/invocations", json=MLFLOW_BODIES["inputs"])
        families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").text)}
        hist = families["mlopskit_request_duration_seconds"]
        assert hist.type == "histogram"
        count = [
            s
            for s in hist.samples
            if s.name.endswith("_count") and s.labels == {"model": "w", "variant": "default"}
        ]
        assert count
        assert count[0].value >= 1
        assert families["mlopskit_requests_in_flight"].samples[0].value == 0
        assert families["mlopskit_ready"].samples[0].value == 1


class TestRouterServer:
    def test_sticky_key_and_variant_header(self, workspace: Path, tmp_path: Path) -> None:
        """With a 50/50 router, a request key always meets the same variant, and the
        answer says which; direct variant URLs bypass routing."""
        spec = {
            "workspace": str(workspace),
            "target": {
                "router": {
                    "variants": {"champion": "w@champion", "canary": "w@canary"},
                    "weights": {"champion": 1, "canary": 1},
                }
            },
        }
        with (
            start_server(spec, tmp_path / "log") as proc,
            httpx.Client(base_url=proc.url, timeout=30) as c,
        ):
            seen: dict[str, set[str]] = {}
            for i in range(40):
                key = f"user-{i % 10}"
                r = c.post(
                    "/invocations", json=MLFLOW_BODIES["inputs"], headers={"x-mlopskit-key": key}
                )
                assert r.status_code == 200
                variant = r.headers["x-mlopskit-variant"]
                expected = EXPECTED if variant == "champion" else CANARY
                assert r.json()["predictions"] == expected
                seen.setdefault(key, set()).add(variant)
            assert all(len(v) == 1 for v in seen.values())
            assert {v for vs in seen.values() for v in vs} == {"champion", "canary"}
            r = c.post("/v2/models/canary/infer", json=v2_body(ROWS))
            assert r.json()["parameters"]["variant"] == "canary"
            assert r.json()["model_version"] == "2"
            r = c.post("/v2/models/w/versions/2/infer", json=v2_body(ROWS))
            assert r.json()["parameters"]["variant"] == "canary"


class TestLoggingAndShutdown:
    def test_answered_predictions_are_logged(self, workspace: Path, tmp_path: Path) -> None:
        """Every answered prediction is in the prediction log after the server stops, with
        its request id, variant and model digest."""
        name = f"log-{uuid.uuid4().hex[:8]}"
        spec = {
            "workspace": str(workspace),
            "target": {"uri": "w@champion"},
            "logger": {"name": name, "max_rows": 1_000_000},
        }
        ids = [f"r{i}" for i in range(5)]
        proc = start_server(spec, tmp_path / "log")
        with proc, httpx.Client(base_url=proc.url, timeout=30) as c:
            for rid in ids:
                r = c.post(
                    "/invocations", json=MLFLOW_BODIES["inputs"], headers={"x-request-id": rid}
                )
                assert r.status_code == 200
        with mk.Workspace(workspace):
            from mlopskit.deploy import PredictionLogger

            frame = PredictionLogger(mk.current_workspace().store, name=name).read()
        assert sorted(set(frame["request_id"])) == ids
        assert len(frame) == 3 * len(ids)
        assert set(frame["variant"]) == {"default"}
        assert frame["output"].tolist() == EXPECTED * len(ids)

    def test_sigterm_loses_no_answered_request(self, workspace: Path, tmp_path: Path) -> None:
        """SIGTERM under load: requests in flight are answered, and every answered request
        is in the prediction log once the process has exited."""
        name = f"term-{uuid.uuid4().hex[:8]}"
        spec = {
            "workspace": str(workspace),
            "target": {"uri": "w@champion"},
            "logger": {"name": name, "max_rows": 1_000_000},
            "slow": 0.3,
        }
        proc = start_server(spec, tmp_path / "log")
        answered: list[str] = []
        started: dict[str, float] = {}
        ended: dict[str, float] = {}
        lock = threading.Lock()
        stop = threading.Event()

        def client(rank: int) -> None:
            with httpx.Client(base_url=proc.url, timeout=30) as c:
                i = 0
                while not stop.is_set():
                    rid = f"c{rank}-{i}"
                    i += 1
                    with lock:
                        started[rid] = time.monotonic()
                    try:
                        r = c.post(
                            "/invocations",
                            json=MLFLOW_BODIES["inputs"],
                            headers={"x-request-id": rid},
                        )
                    except httpx.HTTPError:  # refused or closed once shutdown began
                        time.sleep(0.05)
                        continue
                    if r.status_code == 200:
                        with lock:
                            answered.append(rid)
                            ended[rid] = time.monotonic()

        threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        t0 = time.monotonic()
        code = proc.stop()
        took = time.monotonic() - t0
        stop.set()
        for t in threads:
            t.join(30)
        assert code in (0, -15), proc.stderr()
        assert took < 20
        assert len(answered) >= 8
        # Each prediction takes 0.3 s in the server: whatever was sent 50 ms before the
        # signal had reached it, and must have been answered, not dropped.
        sent_before = {rid for rid, t in started.items() if t < t0 - 0.05}
        assert sent_before <= set(answered)
        # ... and the signal did come under load: requests in flight when it was sent
        # were answered after it.
        assert any(started[rid] < t0 < ended[rid] for rid in answered)
        with mk.Workspace(workspace):
            from mlopskit.deploy import PredictionLogger

            frame = PredictionLogger(mk.current_workspace().store, name=name).read()
        assert set(answered) <= set(frame["request_id"])


class TestInlinePredictions:
    def test_a_slow_model_never_holds_up_health_checks(
        self, workspace: Path, tmp_path: Path
    ) -> None:
        """Small requests are predicted on the event loop only while predictions are fast:
        with a model that takes seconds, liveness answers while a 1-row prediction runs."""
        spec = {"workspace": str(workspace), "target": {"uri": "w@champion"}, "slow": 3.0}
        with start_server(spec, tmp_path / "log") as proc:
            body = MLFLOW_BODIES["inputs"]
            first = httpx.post(f"{proc.url}/invocations", json=body, timeout=30)
            assert first.json() == {"predictions": EXPECTED}
            answers: list[Any] = []
            t = threading.Thread(
                target=lambda: answers.append(
                    httpx.post(f"{proc.url}/invocations", json=body, timeout=30)
                )
            )
            t.start()
            time.sleep(0.5)  # the second prediction is under way (it takes 3 s)
            t0 = time.monotonic()
            live = httpx.get(f"{proc.url}/v2/health/live", timeout=30)
            waited = time.monotonic() - t0
            in_flight = t.is_alive()
            t.join(30)
        assert live.json() == {"live": True}
        assert in_flight and waited < 2.0  # blocked behind it, it would wait ~2.5 s
        assert answers[0].json() == {"predictions": EXPECTED}


class TestReadiness:
    def test_live_before_ready(self, workspace: Path, tmp_path: Path) -> None:
        """While the model loads, liveness answers 200 and readiness, /ping and predictions
        answer 503 with a JSON body; once loaded, all answer 200."""
        spec = {
            "workspace": str(workspace),
            "target": {"router": {"variants": {"default": "w@champion"}}},
            "slow_load": 2.0,
        }
        proc = start_server(spec, tmp_path / "log", wait_ready=False)
        try:
            with httpx.Client(base_url=proc.url, timeout=30) as c:
                assert c.get("/v2/health/live").status_code == 200
                r = c.get("/v2/health/ready")
                assert r.status_code == 503
                assert r.json()["ready"] is False
                assert c.get("/ping").status_code == 503
                r = c.post("/invocations", json=MLFLOW_BODIES["inputs"])
                assert r.status_code == 503
                assert "not ready" in r.json()["message"]
                deadline = time.monotonic() + 30
                while c.get("/v2/health/ready").status_code != 200:
                    assert time.monotonic() < deadline
                    time.sleep(0.1)
                assert c.post("/invocations", json=MLFLOW_BODIES["inputs"]).status_code == 200
        finally:
            proc.stop()


class TestBackground:
    def test_handle_url_stop_and_context_manager(self, workspace: Path) -> None:
        """serve(background=True) returns a handle on 127.0.0.1 once ready; stop() ends it."""
        with mk.Workspace(workspace):
            predictor = Predictor("w@champion")
        with serve(predictor, background=True) as handle:
            assert handle.url.startswith("http://127.0.0.1:")
            r = httpx.post(f"{handle.url}/invocations", json=MLFLOW_BODIES["inputs"])
            assert r.json() == {"predictions": EXPECTED}
            assert handle.running
        assert not handle.running
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{handle.url}/ping")

    def test_uri_target_loads_in_the_callers_workspace(self, workspace: Path) -> None:
        """A registry URI is loaded from the workspace current where serve() was called."""
        with mk.Workspace(workspace), serve("w@canary", background=True) as handle:
            r = httpx.post(f"{handle.url}/v2/models/w/infer", json=v2_body(ROWS))
            assert r.json()["model_version"] == "2"

    def test_body_over_the_limit_is_413(self, workspace: Path) -> None:
        """A body over max_body_bytes is refused with 413 and a JSON error, whether its
        length is declared or it is streamed in chunks; the server keeps answering."""
        with mk.Workspace(workspace):
            predictor = Predictor("w@champion")
        with serve(predictor, background=True, max_body_bytes=1000) as handle:
            big = json.dumps({"inputs": [[1.0, 2.0]] * 200}).encode()
            r = httpx.post(f"{handle.url}/invocations", content=big)
            assert r.status_code == 413
            assert "1000 bytes" in r.json()["message"]

            def chunks() -> Iterator[bytes]:
                for i in range(0, len(big), 100):
                    yield big[i : i + 100]

            r = httpx.post(f"{handle.url}/v2/models/w/infer", content=chunks())
            assert r.status_code == 413
            assert "error" in r.json()
            r = httpx.post(f"{handle.url}/invocations", json=MLFLOW_BODIES["inputs"])
            assert r.status_code == 200

    def test_behind_a_path_prefix_answers_as_at_the_root(self, workspace: Path) -> None:
        """Served under a path prefix (uvicorn's ``root_path``, as behind a proxy), the app
        answers predictions, bad input and wrong methods as it does at the root."""
        import uvicorn

        from mlopskit.deploy._server import build_app

        with mk.Workspace(workspace):
            predictor = Predictor("w@champion")
        app = build_app(predictor)
        config = uvicorn.Config(app, port=0, log_level="warning", root_path="/api")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 30
            while not (server.started and app.state.mlopskit.ready):
                assert time.monotonic() < deadline and thread.is_alive()
                time.sleep(0.01)
            port = server.servers[0].sockets[0].getsockname()[1]
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
                r = c.post("/invocations", json=MLFLOW_BODIES["inputs"])
                assert r.json() == {"predictions": EXPECTED}
                assert r.headers["x-mlopskit-variant"] == "default"
                r = c.post("/v2/models/w/versions/1/infer", json=v2_body(ROWS, id="p-1"))
                assert r.json()["id"] == "p-1"
                assert r.json()["outputs"][0]["data"] == EXPECTED
                assert c.post("/v2/models/w/infer", json={"bad": 1}).status_code == 400
                assert c.get("/invocations").status_code == 405
        finally:
            server.should_exit = True
            thread.join(30)
        assert not thread.is_alive()

    def test_failed_load_raises(self, workspace: Path) -> None:
        """A model that cannot load makes serve(background=True) raise, naming why."""
        from mlopskit.errors import InvalidInputError

        with mk.Workspace(workspace), pytest.raises(InvalidInputError, match="no alias"):
            serve("w@nope", background=True)

    def test_bad_target(self) -> None:
        """serve() refuses a target it cannot serve, naming what it takes."""
        from mlopskit.errors import InvalidInputError

        with pytest.raises(InvalidInputError, match="Predictor"):
            serve(42, background=True)


class TestShadowServer:
    def test_shadow_answers_are_logged_never_returned(
        self, workspace: Path, tmp_path: Path
    ) -> None:
        """With a shadow variant, callers get only the primary's answers, and the log holds
        both, paired by request id."""
        name = f"shadow-{uuid.uuid4().hex[:8]}"
        spec = {
            "workspace": str(workspace),
            "target": {
                "router": {
                    "variants": {"champion": "w@champion"},
                    "shadow": {"candidate": "w@canary"},
                }
            },
            "logger": {"name": name, "max_rows": 1_000_000},
        }
        proc = start_server(spec, tmp_path / "log")
        with proc, httpx.Client(base_url=proc.url, timeout=30) as c:
            for i in range(4):
                r = c.post(
                    "/invocations", json=MLFLOW_BODIES["inputs"], headers={"x-request-id": f"s{i}"}
                )
                assert r.json() == {"predictions": EXPECTED}
                assert r.headers["x-mlopskit-variant"] == "champion"
        with mk.Workspace(workspace):
            from mlopskit.deploy import PredictionLogger

            frame = PredictionLogger(mk.current_workspace().store, name=name).read()
        by_variant = dict(list(frame.groupby("variant")))
        assert set(by_variant) == {"champion", "candidate"}
        assert by_variant["candidate"]["output"].tolist() == CANARY * 4
        assert set(by_variant["candidate"]["request_id"]) == {f"s{i}" for i in range(4)}


def children_of(pid: int) -> set[int]:
    """The live child processes of ``pid`` (Linux /proc)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return set()
    return {int(c) for c in text.split()}


def connections_of(pid: int, port: int) -> int:
    """How many established TCP connections to local ``port`` process ``pid`` holds
    (Linux /proc: its socket descriptors matched against the kernel's TCP table)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    held = 0
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01" and fields[9] in inodes:
                held += 1
    return held


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
class TestWorkers:
    def test_workers_share_the_socket_metrics_and_log(
        self, workspace: Path, tmp_path: Path
    ) -> None:
        """serve(workers=2) answers from two processes: /metrics sums both, every answered
        prediction is logged, and SIGTERM stops every worker."""
        name = f"workers-{uuid.uuid4().hex[:8]}"
        spec = {
            "workspace": str(workspace),
            "target": {"uri": "w@champion"},
            "logger": {"name": name, "max_rows": 1_000_000},
            "workers": 2,
        }
        proc = start_server(spec, tmp_path / "log")
        try:
            workers = children_of(proc.pid)
            assert len(workers) == 2
            ids = [f"k{i}" for i in range(30)]
            for rid in ids:  # a new connection each time: either worker may accept it
                r = httpx.post(
                    f"{proc.url}/invocations",
                    json=MLFLOW_BODIES["inputs"],
                    headers={"x-request-id": rid},
                )
                assert r.json() == {"predictions": EXPECTED}
            from prometheus_client.parser import text_string_to_metric_families

            for _ in range(4):  # whichever worker answers the scrape, it counts all
                families = text_string_to_metric_families(httpx.get(f"{proc.url}/metrics").text)
                ok = sum(
                    s.value
                    for f in families
                    for s in f.samples
                    if s.name == "mlopskit_requests_total" and s.labels["outcome"] == "ok"
                )
                assert ok == len(ids)
        finally:
            code = proc.stop()
        assert code == 0, proc.stderr()
        for pid in workers:
            assert (
                not Path(f"/proc/{pid}").exists()
                or "zombie" in Path(f"/proc/{pid}/status").read_text()
            )
        with mk.Workspace(workspace):
            from mlopskit.deploy import PredictionLogger

            frame = PredictionLogger(mk.current_workspace().store, name=name).read()
        assert sorted(set(frame["request_id"])) == sorted(ids)

    def test_workers_share_keep_alive_connections_evenly(
        self, workspace: Path, tmp_path: Path
    ) -> None:
        """Eight keep-alive clients of serve(workers=2) are shared out evenly (four each;
        five and three at worst, when a loaded machine delays a worker past the 100 ms
        it is given to take its share), never six or seven on one worker."""
        import http.client

        spec = {"workspace": str(workspace), "target": {"uri": "w@champion"}, "workers": 2}
        proc = start_server(spec, tmp_path / "log")
        conns: list[http.client.HTTPConnection] = []
        try:
            workers = sorted(children_of(proc.pid))
            assert len(workers) == 2
            port = int(proc.url.rsplit(":", 1)[1])
            body = json.dumps(MLFLOW_BODIES["inputs"])
            for _ in range(8):  # one after another, each answered (so accepted) in turn
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request(
                    "POST", "/invocations", body=body, headers={"Content-Type": "application/json"}
                )
                answer = conn.getresponse()
                assert json.loads(answer.read()) == {"predictions": EXPECTED}
                conns.append(conn)
            held = sorted(connections_of(pid, port) for pid in workers)
            assert sum(held) == 8
            assert held[1] - held[0] <= 2, held
        finally:
            for conn in conns:
                conn.close()
            code = proc.stop()
        assert code == 0, proc.stderr()

    def test_workers_need_the_blocking_serve(self) -> None:
        """workers > 1 with background=True is refused before anything starts."""
        from mlopskit.errors import InvalidInputError

        with pytest.raises(InvalidInputError, match="blocking"):
            serve("w@champion", background=True, workers=2)
