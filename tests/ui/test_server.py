"""serve_ui: the background handle, clear errors for a busy port, and an S3 workspace."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

import mlopskit as mk
from mlopskit.errors import ConfigError

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from mlopskit.ui import serve_ui

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def fetch(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())


class TestServeUI:
    def test_background_server_answers_then_stops(self, tmp_path: Path) -> None:
        """background=True returns a handle with the URL; stop() frees the port."""
        ws = mk.Workspace(tmp_path / "ws")
        with ws, ws.tracker.start_run("e", capture_env=False) as run:
            run.log_metric("m", 1.0)
        server = serve_ui(tmp_path / "ws", port=0, background=True)
        assert server is not None
        try:
            assert server.url.startswith("http://127.0.0.1:")
            info = fetch(server.url + "/api/info")
            assert info["read_only"] is True and info["workspace"] == str(tmp_path / "ws")
            assert len(fetch(server.url + "/api/runs")["rows"]) == 1
        finally:
            server.stop()
        port = int(server.url.rsplit(":", 1)[1])
        with socket.socket() as s:  # the port can be listened on again
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            s.listen(1)

    def test_ctrl_c_stops_the_foreground_server_cleanly(self, tmp_path: Path) -> None:
        """SIGINT (Ctrl+C) in the foreground stops serving and returns: no traceback, exit 0."""
        code = (
            "import sys; from mlopskit.ui import serve_ui\n"
            "print('returned', serve_ui(sys.argv[1], port=0), flush=True)\n"
        )
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().split(" at ", 1)[1].split()[0]
            assert fetch(url + "/api/info")["read_only"] is True
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 0, err[-2000:]
        assert "returned None" in out and "Traceback" not in err

    def test_busy_port_is_a_config_error(self, tmp_path: Path) -> None:
        """A port already in use is refused with an error that says what to do."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            port = s.getsockname()[1]
            with pytest.raises(ConfigError, match="0 picks a free one"):
                serve_ui(tmp_path, port=port, background=True)

    def test_other_host_names_are_refused(self, tmp_path: Path) -> None:
        """A request naming a foreign host (DNS rebinding from a web page) gets a 400."""
        server = serve_ui(tmp_path, port=0, background=True)
        assert server is not None
        try:
            port = server.url.rsplit(":", 1)[1]
            for host, status in (("evil.example", 400), ("localhost", 200), ("127.0.0.1", 200)):
                req = urllib.request.Request(
                    server.url + "/api/info", headers={"Host": f"{host}:{port}"}
                )
                try:
                    with urllib.request.urlopen(req, timeout=10) as resp:
                        code = resp.status
                except urllib.error.HTTPError as err:
                    code = err.code
                    err.close()
                assert code == status, host
        finally:
            server.stop()

    def test_damaged_artifact_is_an_integrity_error_naming_it(self, tmp_path: Path) -> None:
        """Bytes changed on disk are not served: a 500 whose message names the digest."""
        ws = mk.Workspace(tmp_path / "ws")
        with ws, ws.tracker.start_run("e", capture_env=False) as run:
            ref = run.log_artifact(b"original bytes of the artifact", name="data.bin")
            run_id = run.run_id
        hexpart = ref.digest.split(":", 1)[1]
        (path,) = [p for p in (tmp_path / "ws" / "objects").rglob("*") if p.name == hexpart[2:]]
        path.chmod(0o644)
        path.write_bytes(b"tampered bytes of the artifact")
        server = serve_ui(tmp_path / "ws", port=0, background=True)
        assert server is not None
        try:
            url = f"{server.url}/api/runs/{run_id}/artifact?name=data.bin"
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(url, timeout=10)
            assert err.value.code == 500
            body = json.loads(err.value.read())
            err.value.close()
            assert body["error"]["type"] == "IntegrityError"
            assert hexpart[:12] in body["error"]["message"]
        finally:
            server.stop()

    def test_missing_local_workspace_is_refused(self, tmp_path: Path) -> None:
        """Pointing the UI at a directory that does not exist says so and creates nothing."""
        with pytest.raises(ConfigError, match="no workspace at"):
            serve_ui(tmp_path / "typo", background=True)
        assert not (tmp_path / "typo").exists()

    @pytest.mark.parametrize("module", ["starlette", "uvicorn"])
    def test_missing_extra_names_it(self, tmp_path: Path, module: str) -> None:
        """Without the web stack installed, serve_ui says which extra to install."""
        code = (
            f"import sys; sys.modules[{module!r}] = None\n"
            "from mlopskit.ui import serve_ui\n"
            "from mlopskit.errors import MissingExtraError\n"
            "try:\n"
            "    serve_ui(sys.argv[1], background=True)\n"
            "except MissingExtraError as exc:\n"
            "    print(exc)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60
        )
        assert "pip install 'pymlopskit[ui]'" in out.stdout, out.stderr[-2000:]

    @pytest.mark.parametrize("port", [-1, 70000, "80"])
    def test_bad_port_is_a_config_error(self, tmp_path: Path, port: Any) -> None:
        """Ports outside 0..65535 (or not integers) are refused before anything starts."""
        with pytest.raises(ConfigError, match=r"0\.\.65535"):
            serve_ui(tmp_path, port=port, background=True)


@pytest.mark.s3
class TestS3Workspace:
    def test_runs_and_charts_from_s3(self, s3_bucket: str, tmp_path: Path) -> None:
        """The UI reads an s3:// workspace (object-store tracking backend) the same way."""
        uri = f"s3://{s3_bucket}/ws"
        ws = mk.Workspace(uri)
        with ws:
            for lr in (0.1, 0.2):
                with ws.tracker.start_run("s3exp", params={"lr": lr}, capture_env=False) as run:
                    for step in range(20):
                        run.log_metric("loss", 1 / (step + 1), step=step)
        server = serve_ui(uri, port=0, background=True)
        assert server is not None
        try:
            page = fetch(server.url + "/api/runs?order_by=params.lr&columns=params.lr")
            assert fetch(server.url + "/api/runs-count")["total"] == 2
            assert [r["params.lr"] for r in page["rows"]] == ["0.1", "0.2"]
            rid = page["rows"][0]["run_id"]
            series = fetch(f"{server.url}/api/metrics?runs={rid}&key=loss")["series"][0]
            assert series["total"] == 20 and series["exact"]
        finally:
            server.stop()

    def test_deleted_runs_on_s3_are_counted_only_in_their_view(
        self, s3_bucket: str, tmp_path: Path
    ) -> None:
        """On an s3:// workspace too, the default count leaves a deleted run out and
        view=deleted|all shows it (lifecycle events read from the object store)."""
        uri = f"s3://{s3_bucket}/ws"
        ws = mk.Workspace(uri)
        with ws:
            ids = []
            for lr in (0.1, 0.2):
                with ws.tracker.start_run("s3exp", params={"lr": lr}, capture_env=False) as run:
                    run.log_metric("loss", lr)
                ids.append(run.run_id)
            ws.tracker.delete_run(ids[0], reason="typo")
        server = serve_ui(uri, port=0, background=True)
        assert server is not None
        try:
            assert fetch(server.url + "/api/runs-count")["total"] == 1
            assert fetch(server.url + "/api/runs-count?view=all")["total"] == 2
            rows = fetch(server.url + "/api/runs?view=deleted&columns=lifecycle")["rows"]
            assert rows == [{"run_id": ids[0], "lifecycle": "deleted"}]
        finally:
            server.stop()
