"""The UI's JSON API over real HTTP: paging without silent caps, the filter grammar,
sorting, artifacts served safely, charts' series, the registry, datasets and drift."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest
from ui_harness import UIProcess
from ui_sample import EVIL

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def get(server: UIProcess, route: str, **params: Any) -> tuple[int, dict[str, str], bytes]:
    url = server.url + route + ("?" + urllib.parse.urlencode(params) if params else "")
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        body = err.read()
        headers = {k.lower(): v for k, v in err.headers.items()}
        err.close()
        return err.code, headers, body


def get_json(server: UIProcess, route: str, status: int = 200, **params: Any) -> Any:
    code, _, body = get(server, route, **params)
    assert code == status, body[:500]
    return json.loads(body)


class TestRuns:
    def test_pages_cover_every_run_exactly_once(self, ui_server: UIProcess) -> None:
        """Paging walks all runs, ``has_more`` until the last page; the count agrees."""
        seen = []
        offset = 0
        while True:
            page = get_json(ui_server, "/api/runs", limit=2, offset=offset, columns="name")
            seen += [r["run_id"] for r in page["rows"]]
            offset += 2
            if not page["has_more"]:
                break
        assert len(seen) == len(set(seen)) == 5
        assert get_json(ui_server, "/api/runs-count")["total"] == 5

    def test_deleted_runs_are_counted_only_in_their_view(
        self, ui_server: UIProcess, sample_workspace: dict[str, Any]
    ) -> None:
        """The default view and its "of N" leave deleted runs out; view=deleted|all shows
        and counts them, with their lifecycle, filters included."""
        gone = sample_workspace["deleted"]
        assert get_json(ui_server, "/api/runs-count")["total"] == 5
        assert get_json(ui_server, "/api/runs-count", experiment="mnist")["total"] == 5
        assert gone not in [r["run_id"] for r in get_json(ui_server, "/api/runs")["rows"]]
        page = get_json(ui_server, "/api/runs", view="deleted", columns="lifecycle")
        assert page["rows"] == [{"run_id": gone, "lifecycle": "deleted"}]
        assert get_json(ui_server, "/api/runs-count", view="deleted")["total"] == 1
        assert get_json(ui_server, "/api/runs-count", view="all")["total"] == 6
        flt = "metrics.acc > 0.8"
        assert get_json(ui_server, "/api/runs-count", view="all", filter=flt)["total"] == 3
        assert get_json(ui_server, "/api/runs-count", filter=flt)["total"] == 2
        assert "lifecycle" in get_json(ui_server, "/api/runs-columns", view="all")["columns"]

    def test_unknown_view_is_an_error(self, ui_server: UIProcess) -> None:
        """A view other than active, deleted or all is a 400 naming the choices."""
        for route in ("/api/runs", "/api/runs-count", "/api/runs-columns"):
            err = get_json(ui_server, route, status=400, view="trash")["error"]
            assert err["type"] == "InvalidInputError"
            assert "active, deleted, all" in err["message"] and "'trash'" in err["message"]

    def test_too_large_a_page_is_an_error_not_a_silent_cap(self, ui_server: UIProcess) -> None:
        """Asking for more rows than one page may hold says so (400), it is not truncated."""
        err = get_json(ui_server, "/api/runs", status=400, limit=100_000)["error"]
        assert err["type"] == "InvalidInputError"
        assert "between 1 and 1000" in err["message"]

    def test_filter_grammar_narrows_the_rows(self, ui_server: UIProcess) -> None:
        """search_runs filter strings work as in the library."""
        flt = "metrics.acc > 0.8 and params.lr < 0.02"
        page = get_json(ui_server, "/api/runs", filter=flt)
        assert sorted(r["name"] for r in page["rows"]) == ["lr-0.003", "lr-0.01"]
        assert not page["has_more"]
        assert get_json(ui_server, "/api/runs-count", filter=flt)["total"] == 2
        assert get_json(ui_server, "/api/runs-count", experiment="nope")["total"] == 0

    def test_filter_syntax_error_points_at_the_token(self, ui_server: UIProcess) -> None:
        """A bad filter is a 400 whose message shows where it went wrong."""
        err = get_json(ui_server, "/api/runs", status=400, filter="metrics.acc >> 1")["error"]
        assert err["type"] == "FilterSyntaxError"
        assert "^" in err["message"]

    def test_order_by_sorts_both_ways(self, ui_server: UIProcess) -> None:
        """order_by takes the library's syntax; DESC reverses ASC (missing values last)."""
        up = get_json(ui_server, "/api/runs", order_by="metrics.acc ASC", columns="metrics.acc")
        down = get_json(ui_server, "/api/runs", order_by="metrics.acc DESC", columns="metrics.acc")
        asc = [r["metrics.acc"] for r in up["rows"]]
        assert asc == sorted(asc)
        assert [r["metrics.acc"] for r in down["rows"]] == asc[::-1]

    def test_columns_choose_what_rows_carry(self, ui_server: UIProcess) -> None:
        """Rows hold run_id plus the chosen columns; every available column is listed."""
        page = get_json(ui_server, "/api/runs", columns="params.lr,nope")
        assert set(page["rows"][0]) == {"run_id", "params.lr"}
        assert page["missing_columns"] == ["nope"]
        every = get_json(ui_server, "/api/runs-columns")["columns"]
        assert {"metrics.loss", "params.lr", "params.note", "tags.team", "start_time"} <= set(every)

    def test_run_record_has_artifacts_with_their_view(
        self, ui_server: UIProcess, sample_workspace: dict[str, Any]
    ) -> None:
        """A run's page data: params, metrics, inputs, and how each artifact is shown."""
        run = get_json(ui_server, f"/api/runs/{sample_workspace['runs']['evil']}")
        views = {a["name"]: a["view"] for a in run["artifacts"]}
        assert views == {
            "plots/sample.png": "image",
            "predictions.csv": "table",
            "notes.txt": "text",
            "config.json": "table",
            "model_dir": "tree",
        }
        assert run["params"]["note"] == EVIL  # data, unchanged: escaping is the page's job
        assert run["inputs"][0]["name"] == "iris@1"

    @pytest.mark.parametrize("run_id", ["..", "a/b", "x" * 80, "%2e%2e"])
    def test_bad_run_ids_are_refused(self, ui_server: UIProcess, run_id: str) -> None:
        """Run ids that could escape a path are rejected (400) or unknown (404)."""
        code, _, body = get(ui_server, "/api/runs/" + urllib.parse.quote(run_id, safe=""))
        assert code in (400, 404), body
        assert "error" in json.loads(body)

    def test_only_reads_are_allowed(self, ui_server: UIProcess) -> None:
        """The API answers GET only: a POST or DELETE is 405 and changes nothing."""
        for method in ("POST", "DELETE", "PUT"):
            req = urllib.request.Request(ui_server.url + "/api/runs", method=method, data=b"{}")
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(req, timeout=10)
            assert err.value.code == 405
            err.value.close()


class TestArtifacts:
    def test_image_is_served_inline_with_its_type(
        self, ui_server: UIProcess, sample_workspace: dict[str, Any]
    ) -> None:
        """A PNG artifact is served inline as image/png, its bytes intact."""
        rid = sample_workspace["runs"]["evil"]
        code, headers, body = get(ui_server, f"/api/runs/{rid}/artifact", name="plots/sample.png")
        assert code == 200
        assert headers["content-type"] == "image/png"
        assert headers["content-disposition"].startswith("inline")
        assert body.startswith(b"\x89PNG")

    def test_other_files_are_downloads_never_rendered(
        self, ui_server: UIProcess, sample_workspace: dict[str, Any]
    ) -> None:
        """Text holding markup is an attachment, with nosniff and a script-free CSP."""
        rid = sample_workspace["runs"]["evil"]
        code, headers, body = get(ui_server, f"/api/runs/{rid}/artifact", name="notes.txt")
        assert code == 200 and body == EVIL.encode()
        assert headers["content-disposition"].startswith("attachment")
        assert headers["x-content-type-options"] == "nosniff"
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "html" not in headers["content-type"]

    def test_table_artifact_is_rendered_as_rows(
        self, ui_server: UIProcess, sample_workspace: dict[str, Any]
    ) -> None:
        """A CSV artifact comes back as columns and rows."""
        rid = sample_workspace["runs"]["evil"]
        table = get_json(ui_server, f"/api/runs/{rid}/artifact/table", name="predictions.csv")
        assert table["columns"] == ["label", "score"]
        assert table["rows"][2] == [EVIL, 0.1]
        assert table["total"] == 3

    def test_directory_artifact_lists_and_serves_its_files(
        self, ui_server: UIProcess, sample_workspace: dict[str, Any]
    ) -> None:
        """A logged directory lists its files; each listed file downloads, nothing else does."""
        rid = sample_workspace["runs"]["evil"]
        files = get_json(ui_server, f"/api/runs/{rid}/artifact/files", name="model_dir")["files"]
        assert [f["path"] for f in files] == ["config.yaml", "weights/w.bin"]
        code, headers, body = get(
            ui_server, f"/api/runs/{rid}/artifact", name="model_dir", path="weights/w.bin"
        )
        assert (code, body) == (200, bytes(range(256)))
        assert headers["content-disposition"] == 'attachment; filename="w.bin"'
        for bad in ("../tracking.sqlite", "/etc/passwd", "weights", "weights/../config.yaml"):
            code, _, _ = get(ui_server, f"/api/runs/{rid}/artifact", name="model_dir", path=bad)
            assert code == 404, bad

    def test_unknown_artifact_is_404(
        self, ui_server: UIProcess, sample_workspace: dict[str, Any]
    ) -> None:
        """Asking for an artifact the run does not have is a 404 naming it."""
        rid = sample_workspace["runs"]["evil"]
        err = get_json(ui_server, f"/api/runs/{rid}/artifact", status=404, name="../../x")
        assert "../../x" in err["error"]["message"]


class TestMetrics:
    def test_series_for_several_runs(
        self, ui_server: UIProcess, sample_workspace: dict[str, Any]
    ) -> None:
        """One request returns each run's series, exact when it fits the budget."""
        ids = [sample_workspace["runs"][k] for k in ("lr-0.1", "lr-0.01")]
        body = get_json(ui_server, "/api/metrics", runs=",".join(ids), key="loss")
        assert [s["run_id"] for s in body["series"]] == ids
        for s in body["series"]:
            assert s["exact"] and s["total"] == len(s["x"]) == 60
            assert s["x"] == list(range(60))

    def test_long_series_is_downsampled_then_exact_on_zoom(
        self, ui_server: UIProcess, sample_workspace: dict[str, Any]
    ) -> None:
        """5,000 points come back as at most 500, and exactly inside a zoomed range."""
        rid = sample_workspace["runs"]["evil"]
        whole = get_json(ui_server, "/api/metrics", runs=rid, key="loss", points=500)
        s = whole["series"][0]
        assert s["total"] == 5000 and len(s["x"]) <= 500 and not s["exact"]
        zoom = get_json(
            ui_server, "/api/metrics", runs=rid, key="loss", points=500, start=1000, end=1199
        )["series"][0]
        assert zoom["exact"]
        assert zoom["x"] == list(range(999, 1201))
        assert zoom["y"][1] == pytest.approx(1 / 1001)

    def test_metric_the_run_lacks_is_an_empty_series(
        self, ui_server: UIProcess, sample_workspace: dict[str, Any]
    ) -> None:
        """Overlaying a metric one run does not have gives that run an empty series."""
        rid = sample_workspace["runs"]["lr-0.1"]
        s = get_json(ui_server, "/api/metrics", runs=rid, key="nope")["series"][0]
        assert (s["x"], s["y"], s["total"], s["exact"]) == ([], [], 0, True)

    def test_time_axis_is_sorted_epoch_seconds(
        self, ui_server: UIProcess, sample_workspace: dict[str, Any]
    ) -> None:
        """x=time gives timestamps (seconds since the epoch) in increasing order."""
        rid = sample_workspace["runs"]["lr-0.1"]
        s = get_json(ui_server, "/api/metrics", runs=rid, key="loss", x="time")["series"][0]
        assert s["x"] == sorted(s["x"]) and s["x"][0] > 1.6e9

    @pytest.mark.parametrize(
        "params",
        [
            {"key": "loss", "x": "epoch"},
            {"key": "loss", "points": "lots"},
            {"key": "loss", "start": "nan"},
            {"key": "loss", "points": 10**9},
        ],
    )
    def test_bad_chart_requests_are_400(
        self, ui_server: UIProcess, sample_workspace: dict[str, Any], params: dict[str, Any]
    ) -> None:
        """Bad axis, budgets or ranges are explained, not guessed."""
        rid = sample_workspace["runs"]["lr-0.1"]
        err = get_json(ui_server, "/api/metrics", status=400, runs=rid, **params)["error"]
        assert err["message"]


class TestRegistryDatasetsDrift:
    def test_models_list_and_history(self, ui_server: UIProcess) -> None:
        """Models show their versions, aliases and the alias history, newest version first."""
        models = get_json(ui_server, "/api/models")["models"]
        assert models == [
            {**models[0], "name": "clf", "versions": 2, "latest": 2, "aliases": {"champion": 2}}
        ]
        clf = get_json(ui_server, "/api/models/clf")
        assert [v["number"] for v in clf["versions"]] == [2, 1]
        moves = [(e["action"], e["from_version"], e["to_version"]) for e in clf["history"]]
        assert ("set_alias", 1, 2) in moves

    def test_bad_model_name_is_400(self, ui_server: UIProcess) -> None:
        """A name that could escape the refs tree is refused."""
        err = get_json(ui_server, "/api/models/..%2Fetc", status=400)["error"]
        assert err["type"] == "InvalidNameError"

    def test_dataset_summary_and_diff(self, ui_server: UIProcess) -> None:
        """A dataset shows each version's per-column summary and the diff of two versions."""
        iris = get_json(ui_server, "/api/datasets/iris", version=1)
        assert [v["number"] for v in iris["versions"]] == [1, 2]
        assert {s["name"] for s in iris["version"]["summary"]} == {"x", "kind"}
        diff = get_json(ui_server, "/api/datasets/iris/diff", a=1, b=2)
        assert diff["added_columns"] == ["new"] and diff["rows"] == [200, 240]

    def test_drift_between_versions(self, ui_server: UIProcess) -> None:
        """The drift page's data is mk.drift.compare of the two versions, with histograms."""
        rep = get_json(ui_server, "/api/drift", reference="iris/1", current="iris/2")
        assert rep["drifted"] is True
        assert all(c["histogram"]["labels"] for c in rep["columns"])

    def test_lineage_of_a_run(self, ui_server: UIProcess, sample_workspace: dict[str, Any]) -> None:
        """The run's lineage names the dataset it read and the models it produced."""
        rid = sample_workspace["runs"]["evil"]
        g = get_json(ui_server, "/api/lineage", uri=f"run:{rid}")
        labels = {(r["source"]["label"], r["target"]["label"]) for r in g["records"]}
        assert ("iris/1", rid) in labels
        assert (rid, "clf/2") in labels

    @pytest.mark.parametrize(
        ("uri", "status"),
        [("run:../../etc", 400), ("run:0123abcd", 404), ("dataset:../x/1", 400), ("", 400)],
    )
    def test_bad_lineage_uris_are_refused(
        self, ui_server: UIProcess, uri: str, status: int
    ) -> None:
        """Run ids and names in a lineage URI are checked before anything is read."""
        code, _, body = get(ui_server, "/api/lineage", uri=uri)
        assert (code, "error" in json.loads(body)) == (status, True), body

    def test_unknown_api_route_is_json_404(self, ui_server: UIProcess) -> None:
        """A wrong API path answers JSON, not the HTML shell."""
        assert get_json(ui_server, "/api/nothing", status=404)["error"]["type"] == "NotFoundError"

    def test_pages_are_the_html_shell(self, ui_server: UIProcess) -> None:
        """Every page route serves the same script-free HTML shell; static files are served."""
        code, headers, body = get(ui_server, "/runs/abc")
        assert code == 200 and headers["content-type"].startswith("text/html")
        assert b"<script>" not in body and b'src="/static/app.js"' in body
        code, _, js = get(ui_server, "/static/vendor/uplot/uPlot.iife.min.js")
        assert code == 200 and b"uPlot" in js[:200]
