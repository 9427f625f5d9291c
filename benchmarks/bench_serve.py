"""Serving benchmark: mlopskit's serve()/Predictor against MLflow and MLServer, same run.

    nox -s bench_serve                       # builds the MLflow and MLServer venvs itself
    python benchmarks/bench_serve.py [--quick] [--json PATH] [--only-logger]
        [--logger-writer auto|inline|thread]
        [--mlflow-python VENV/bin/python] [--mlserver-python VENV/bin/python]

One small scikit-learn model (LogisticRegression, 20 float features, 10k training rows)
served by each server from its own venv, on 127.0.0.1, called by the same client: a
bounded loop of keep-alive requests on 1 or 8 connections, each sending its next request
once the last is answered, 1-row and 1,000-row payloads (``/invocations`` JSON
``dataframe_split`` against MLflow, OIP V2 ``/infer`` against MLServer). The client
(``--client``) is by default ``http.client``: a thread and an ``http.client`` connection
per client, ~100 us or more of the client's CPU per request (each pairing's note says
how many); with 8 threads on one core an answered thread waits for the others'
interpreter lock, which moves every ratio towards 1 and puts the client's scheduling
into the p99. ``--client lean`` drives raw keep-alive sockets from one ``selectors``
loop in one thread, sending pre-encoded request bytes and reading each answer's status,
Content-Length and body: about a third of that cost. The recorded runs (``nox -s
bench_all``) use the lean client since run13, so less of each p99 is the client's own.
Either way every answer is checked (status 200, a prediction in the body) and counted. mlopskit and the anchor alternate, each pair in the other order
than the last (AB BA AB ...); each figure is the median of the per-pair ratios, with
min and max, and the machine's load average while the row ran (``uptime``'s 1-minute
figure, before and after). Against MLflow every server runs ``--workers`` workers
(default 1): ``serve(workers=N)``, ``mlflow models serve --workers N``. Against MLServer
the rows are measured in named modes (``--mlserver-modes``), because MLServer's default
(``parallel_workers=1``) is two busy processes — an HTTP front process that parses and
encodes, and an inference process — where ``serve()`` is one: "1 process each"
(``serve(workers=1)`` vs ``parallel_workers=0``, inference in MLServer's front process)
and "2 processes each" (``serve(workers=2)`` vs ``parallel_workers=1``) hold the goals;
"each default" (one process vs two) is published without a goal, as what a user who
changes nothing meets. In "1 process each" (on a machine with 2 or more cores, unless
``--no-pin``) each server runs on core 0 and the client on the others, so the two cores
are not shared by whichever server and client the scheduler places together: the same
resources for both servers, and figures of the server rather than of the scheduler.
The prediction logger's rows (one server with a logger at 100%, one without) are pinned
the same way since run18: both servers, the logger's writer thread included, on core 0;
since run30 each side's window is three segments' worth of requests (30,000), so the
logged side's figures include writing its segments (a 4,000-request window wrote none).
Every pair of a row comes from a different pair of server processes: each round of a
pairing starts both servers afresh, warms them, measures every case once on each and
stops them (the logger's rows restart both for every pair), because one server process
differs from the next (where its memory and threads land) and, when one pair served a
whole pairing, that difference moved whole runs while each run's spread stayed narrow.
The 1,000-row x 8-client rows note which processes of each side used the CPU (``ps`` of
each server's session, in the last round).
Each HTTP row also reports the server's CPU seconds per request (every process of its
session, read from /proc): the capacity behind the throughput goal, which the other
work on a shared machine moves far less than it moves wall-clock figures. Ratios are "lower is better": mlopskit/anchor
for times, anchor/mlopskit for throughputs (the ``unit`` says which). Anchors whose
venv is not given are skipped with a note; the in-process, load, router and logger
rows need only mlopskit (plus mlflow's venv for their anchors).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.client
import json
import os
import pickle
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

HERE = Path(__file__).resolve().parent
SRC = str(HERE.parent / "src")
sys.path.insert(0, SRC)
sys.path.insert(0, str(HERE))

from _bench import row_problems  # noqa: E402

ROWS: list[dict[str, Any]] = []
WORKERS = [1]  # workers of both servers in the HTTP rows against MLflow (--workers)
FEATURES = [f"f{i}" for i in range(20)]


NOTES: list[str] = []


def note(msg: str, *, record: bool = False) -> None:
    """Print a note; ``record=True`` also writes it to the JSON (the rendered table's notes)."""
    print(f"  # {msg}", flush=True)
    if record:
        NOTES.append(msg)


def add_row(
    row: str,
    mode: str,
    anchor: str,
    pairs: list[tuple[float, float]],
    *,
    unit: str,
    goal: float | None,
    higher_is_better: bool,
    load: tuple[float, float] | None = None,
) -> None:
    """Record one row: per-pair ratios (lower is better), their median, min, max, load.

    ``goal=None`` publishes the row without holding a goal on it (a comparison of
    different modes, shown for what a user meets by default).
    """
    if higher_is_better:  # throughput: anchor / mlopskit
        ratios = [a / m for m, a in pairs]
        unit = f"{unit} (ratio: anchor/mlopskit)"
    else:  # time: mlopskit / anchor
        ratios = [m / a for m, a in pairs]
        unit = f"{unit} (ratio: mlopskit/anchor)"
    ratio = statistics.median(ratios)
    before, after = load or (LOAD_AT_START[0], os.getloadavg()[0])
    entry = {
        "row": row,
        "mode": mode,
        "anchor": anchor,
        "ratio": round(ratio, 4),
        "min": round(min(ratios), 4),
        "max": round(max(ratios), 4),
        "n": len(ratios),
        "goal": None if goal is None else f"<= {goal:g}",
        "met": None if goal is None else bool(ratio <= goal),
        "mlopskit": statistics.median(m for m, _ in pairs),
        "anchor_value": statistics.median(a for _, a in pairs),
        "unit": unit,
        "load": [before, after],
    }
    problems = row_problems(entry)
    if problems:  # refused now, not left out of the record after a whole run
        raise ValueError(f"malformed row {row!r}: {'; '.join(problems)}")
    ROWS.append(entry)
    verdict = (
        "no goal (modes differ)"
        if goal is None
        else f"goal <= {goal:g} {'met' if entry['met'] else 'NOT met'}"
    )
    print(
        f"{row:<58} {entry['mlopskit']:>12.5g} vs {entry['anchor_value']:>12.5g}  "
        f"ratio {ratio:.3f} [{min(ratios):.3f}, {max(ratios):.3f}] n={len(ratios)} "
        f"{verdict}  load {before:.1f}-{after:.1f}",
        flush=True,
    )


LOAD_AT_START = [0.0]


def mark_load() -> float:
    """The 1-minute load average now (rows report it before and after they ran)."""
    LOAD_AT_START[0] = os.getloadavg()[0]
    return LOAD_AT_START[0]


def alternate(k: int, first: Any, second: Any) -> tuple[Any, Any]:
    """Run ``first`` and ``second`` (mlopskit, anchor) in pair ``k``'s order: AB, BA, AB...;
    return their results as (mlopskit's, anchor's)."""
    if k % 2 == 0:
        a = first()
        return a, second()
    b = second()
    return first(), b


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the model and its three packagings ------------------------------------------------------


def make_model(root: Path) -> tuple[Any, Any]:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(10_000, 20)), columns=FEATURES)
    y = (x.to_numpy() @ rng.normal(size=20) > 0).astype(int)
    model = LogisticRegression(max_iter=500).fit(x, y)
    (root / "model.pkl").write_bytes(pickle.dumps(model))
    return model, x


def package_mlopskit(root: Path, model: Any, x: Any) -> str:
    import mlopskit as mk

    ws = root / "ws"
    with mk.Workspace(ws):
        mk.registry.register("bench", model, input_example=x.head(5))
        mk.registry.set_alias("bench", "champion", 1)
        from mlopskit.deploy import Predictor

        Predictor("bench@champion")  # makes (and remembers) the package
    return str(ws)


MLFLOW_SAVE = """
import pickle, sys, pandas as pd, mlflow.sklearn
from mlflow.models import infer_signature
model = pickle.load(open(sys.argv[1], "rb"))
x = pd.read_parquet(sys.argv[2])
mlflow.sklearn.save_model(model, sys.argv[3], signature=infer_signature(x, model.predict(x)),
                          input_example=x.head(5))
"""


def package_mlflow(root: Path, python: str, x: Any) -> Path:
    x.head(100).to_parquet(root / "x.parquet")
    out = root / "mlflow_model"
    subprocess.run(
        [python, "-c", MLFLOW_SAVE, str(root / "model.pkl"), str(root / "x.parquet"), str(out)],
        check=True,
        capture_output=True,
        env={**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true"},
    )
    return out


def package_mlserver(root: Path, python: str, parallel_workers: int) -> Path:
    """A model repository for ``mlserver start`` with ``parallel_workers`` in its settings
    (0: inference in the HTTP process itself; N >= 1: N inference processes behind it);
    :func:`start_mlserver` gives it fresh ports at each start."""
    repo = root / f"mlserver_repo_pw{parallel_workers}"
    (repo / "bench").mkdir(parents=True, exist_ok=True)  # two modes may share a setting
    subprocess.run(
        [
            python,
            "-c",
            "import pickle, sys, joblib; joblib.dump(pickle.load(open(sys.argv[1], 'rb')), sys.argv[2])",
            str(root / "model.pkl"),
            str(repo / "bench" / "model.joblib"),
        ],
        check=True,
    )
    settings = {"host": "127.0.0.1", "parallel_workers": parallel_workers}
    (repo / "settings.json").write_text(json.dumps(settings))
    (repo / "bench" / "model-settings.json").write_text(
        json.dumps(
            {
                "name": "bench",
                "implementation": "mlserver_sklearn.SKLearnModel",
                "parameters": {"uri": "./model.joblib", "version": "1"},
            }
        )
    )
    return repo


# -- servers ----------------------------------------------------------------------------------


class Server:
    """A server process in its own process group, stopped by its pid's group."""

    def __init__(self, name: str, argv: list[str], url: str, ready: str, log: Path, **kw: Any):
        self.name, self.url = name, url
        self.log = open(log, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            argv, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True, **kw
        )
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(url + ready, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{name} did not start; see {log}")
            time.sleep(0.2)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the server's processes so far: every process of its
        session (MLServer's workers, serve()'s forked workers). Linux /proc; 0 elsewhere."""
        total = 0
        try:
            pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
        except OSError:
            return 0.0
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == self.proc.pid:  # the session id: start_new_session=True
                total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def processes(self) -> list[tuple[int, str, float]]:
        """(pid, command, CPU seconds so far) of every process of the server's session:
        what the server really runs (``ps`` of its process group). Linux /proc."""
        out = []
        try:
            pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        except OSError:
            return []
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    argv = fh.read().split(b"\0")
            except OSError:
                continue
            if int(fields[3]) != self.proc.pid:
                continue
            words = [os.path.basename(argv[0].decode(errors="replace"))]
            words += [a.decode(errors="replace") for a in argv[1:3] if a]
            command = " ".join(words)[:70].replace("\n", " ")
            cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            out.append((pid, command, cpu))
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


MLOPSKIT_SERVE = """
import sys
import mlopskit as mk
from mlopskit.deploy import PredictionLogger, serve
ws = mk.set_workspace(sys.argv[1])
logger = None if sys.argv[3] == "-" else PredictionLogger(ws.store, name="bench", writer=sys.argv[3])
serve("bench@champion", port=int(sys.argv[2]), logger=logger, log_level="warning",
      workers=int(sys.argv[4]))
"""


def set_cpus(pids: list[int], cpus: set[int]) -> None:
    """Every thread of ``pids`` (and so the threads they start later) on ``cpus``."""
    for pid in pids:
        try:
            tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        except OSError:
            continue
        for tid in tids:
            try:
                os.sched_setaffinity(tid, cpus)
            except OSError:  # a thread that just ended
                continue


@contextlib.contextmanager
def pinned(*servers: Server) -> Iterator[None]:
    """Servers on core 0 and this process's client threads on the other cores, for the
    block; everything back on every core after it."""
    every = set(range(os.cpu_count() or 1))
    if len(every) < 2 or not hasattr(os, "sched_setaffinity"):
        yield
        return
    mine = os.sched_getaffinity(0)
    for server in servers:
        set_cpus([pid for pid, _, _ in server.processes()], {0})
    os.sched_setaffinity(0, every - {0})
    try:
        yield
    finally:
        os.sched_setaffinity(0, mine)
        for server in servers:
            set_cpus([pid for pid, _, _ in server.processes()], every)


def start_mlopskit(
    root: Path, ws: str, log: bool = False, workers: int = 1, writer: str = "auto"
) -> Server:
    """mlopskit's server of the bench model; with ``log`` a prediction logger at 100%
    whose segments ``writer`` writes (``PredictionLogger(writer=)``)."""
    port = free_port()
    return Server(
        "mlopskit" + (" +logger" if log else ""),
        [sys.executable, "-c", MLOPSKIT_SERVE, ws, str(port), writer if log else "-", str(workers)],
        f"http://127.0.0.1:{port}",
        "/v2/health/ready",
        root / f"mlopskit-{port}.log",
        env={**os.environ, "PYTHONPATH": SRC},
    )


def start_mlflow(root: Path, python: str, model_dir: Path) -> Server:
    port = free_port()
    bindir = os.path.dirname(os.path.abspath(python))  # MLServer runs in its repo dir
    env = {
        **os.environ,
        "PATH": f"{bindir}:{os.environ['PATH']}",
        "MLFLOW_ALLOW_FILE_STORE": "true",
    }
    return Server(
        "mlflow",
        [
            f"{bindir}/mlflow",
            "models",
            "serve",
            "-m",
            str(model_dir),
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "--workers",
            str(WORKERS[0]),
        ],
        f"http://127.0.0.1:{port}",
        "/ping",
        root / f"mlflow-{port}.log",
        env=env,
    )


# Pairings against MLServer: key -> (the mode as rows name it, serve()'s workers,
# MLServer's parallel_workers, whether the goals are held on it). MLServer's default
# (parallel_workers=1) runs an HTTP front process that parses and encodes, plus one
# inference process; parallel_workers=0 predicts in the front process itself.
MLSERVER_MODES: dict[str, tuple[str, int, int, bool]] = {
    "1": ("1 process each: serve(workers=1), parallel_workers=0", 1, 0, True),
    "default": (
        "each default: serve() 1 process, MLServer 2 (parallel_workers=1)",
        1,
        1,
        False,
    ),
    "2": ("2 processes each: serve(workers=2), parallel_workers=1", 2, 1, True),
}


def start_mlserver(root: Path, python: str, repo: Path) -> Server:
    """``mlserver start`` of ``repo`` (from :func:`package_mlserver`) on fresh ports."""
    bindir = os.path.dirname(os.path.abspath(python))  # MLServer runs in its repo dir
    ports = {"http_port": free_port(), "grpc_port": free_port(), "metrics_port": free_port()}
    settings = json.loads((repo / "settings.json").read_text())
    (repo / "settings.json").write_text(json.dumps({**settings, **ports}))
    return Server(
        "mlserver",
        [f"{bindir}/mlserver", "start", str(repo)],
        f"http://127.0.0.1:{ports['http_port']}",
        "/v2/health/ready",
        root / f"mlserver-{ports['http_port']}.log",
        env={**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"},
        cwd=str(repo),
    )


# -- the client ---------------------------------------------------------------------------------

# The client (--client): "http.client" (default) or "lean". Both run on the cores the
# servers leave free (pinned modes) and are the same for both servers of a row.
CLIENT = ["http.client"]


class Load(NamedTuple):
    """What one load loop measured."""

    rate: float  # requests per second
    p99: float  # seconds, from the request's first byte sent to its answer's last received
    cpu: float  # the server's CPU seconds per request (every process of its session)
    client_cpu: float  # the client's own CPU seconds per request
    answers: int  # answers checked: status 200 and a prediction in the body


def prediction_key(path: str) -> bytes:
    """The JSON key every prediction answer to ``path`` carries (V2 or MLflow's)."""
    return b'"predictions"' if path == "/invocations" else b'"outputs"'


def check_answer(url: str, status: int, body: bytes, key: bytes) -> None:
    """Refuse an answer that is not a 200 carrying a prediction."""
    if status != 200 or key not in body:
        raise RuntimeError(f"{url} answered {status}: {body[:300]!r}")


def load_loop(
    url: str,
    path: str,
    body: bytes,
    clients: int,
    seconds: float,
    max_requests: int,
    server: Server | None = None,
) -> Load:
    """Keep-alive requests on ``clients`` connections for ``seconds`` (or ``max_requests``),
    each connection sending its next request once the last is answered, with the client
    ``--client`` chose (:func:`lean_loop` or :func:`http_client_loop`)."""
    run = lean_loop if CLIENT[0] == "lean" else http_client_loop
    return run(url, path, body, clients, seconds, max_requests, server)


def summary(latencies: list[float], wall: float, cpu: float, client_cpu: float) -> Load:
    flat = sorted(latencies)
    n = max(len(flat), 1)
    p99 = flat[min(len(flat) - 1, int(0.99 * len(flat)))]
    return Load(len(flat) / wall, p99, cpu / n, client_cpu / n, len(flat))


def http_client_loop(
    url: str,
    path: str,
    body: bytes,
    clients: int,
    seconds: float,
    max_requests: int,
    server: Server | None = None,
) -> Load:
    """The ``http.client`` client: one thread and one ``HTTPConnection`` per client.

    Each request costs the client ~100 us or more of Python (headers built and parsed
    by the standard library), and with 8 threads on one core a thread whose answer has
    arrived waits for the interpreter lock behind the others: the figures of both servers
    carry that."""
    host, port = url.split("//")[1].split(":")
    latencies: list[list[float]] = [[] for _ in range(clients)]
    start = threading.Barrier(clients + 1)
    per_client = max(1, max_requests // clients)
    headers = {"Content-Type": "application/json"}
    key = prediction_key(path)

    errors: list[BaseException] = []

    def run(k: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        try:
            conn.request("POST", path, body=body, headers=headers)  # warm the connection
            warm = conn.getresponse()
            check_answer(url + path, warm.status, warm.read(), key)
            mine = latencies[k]
            start.wait()
            deadline = time.perf_counter() + seconds
            while len(mine) < per_client and time.perf_counter() < deadline:
                t0 = time.perf_counter()
                conn.request("POST", path, body=body, headers=headers)
                r = conn.getresponse()
                answer = r.read()
                mine.append(time.perf_counter() - t0)
                check_answer(url + path, r.status, answer, key)
        except BaseException as exc:  # raised again by the caller's thread
            errors.append(exc)
            start.abort()
        finally:
            conn.close()

    threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        start.wait()
    cpu0 = server.cpu_seconds() if server is not None else 0.0
    c0 = time.process_time()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    client_cpu = time.process_time() - c0
    cpu = server.cpu_seconds() - cpu0 if server is not None else 0.0
    for exc in errors:
        if not isinstance(exc, threading.BrokenBarrierError):
            raise exc
    return summary([v for lat in latencies for v in lat], wall, cpu, client_cpu)


class _Conn:
    """One keep-alive connection of :func:`lean_loop`: what it has left to send, what it
    has received of the answer in flight, and its latencies."""

    __slots__ = ("body_at", "done", "need", "received", "sent", "sock", "status", "t0")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sent = 0  # bytes of the request in flight sent so far
        self.received = b""
        self.need = -1  # bytes of the whole answer (head and body) once its head is in
        self.status = 0
        self.body_at = 0  # where the answer's body starts in ``received``
        self.t0 = 0.0
        self.done = 0


def answer_size(received: bytes) -> tuple[int, int, int]:
    """``(status, where the body starts, bytes of the whole answer)`` once the answer's
    head is in ``received``, else ``(0, 0, -1)``. The answer must say its Content-Length
    (the JSON answers of every server here do)."""
    end = received.find(b"\r\n\r\n")
    if end < 0:
        return 0, 0, -1
    head = received[:end].lower()
    at = head.find(b"\r\ncontent-length:")
    if at < 0:
        raise RuntimeError(f"an answer without Content-Length: {received[:300]!r}")
    stop = head.find(b"\r\n", at + 2)
    length = int(head[at + 17 : stop if stop >= 0 else len(head)])
    return int(head[9:12]), end + 4, end + 4 + length


def lean_loop(
    url: str,
    path: str,
    body: bytes,
    clients: int,
    seconds: float,
    max_requests: int,
    server: Server | None = None,
) -> Load:
    """The lean client: ``clients`` raw keep-alive sockets driven by one ``selectors`` loop
    in one thread, each sending the same pre-encoded request bytes (head and body in one
    buffer, TCP_NODELAY) and reading its answer's status, Content-Length and body.

    No interpreter lock is shared between clients and no headers are built or parsed
    beyond those two fields: the client's own cost per request is a few tens of
    microseconds (each row's note says it), where ``http.client`` costs ~100 us or more.
    Every answer is checked: status 200 and a prediction in its body."""
    host, port = url.split("//")[1].split(":")
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode("ascii") + body
    key = prediction_key(path)
    per_client = max(1, max_requests // clients)
    conns = []
    try:
        for _ in range(clients):
            sock = socket.create_connection((host, int(port)), timeout=120)
            conns.append(_Conn(sock))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(request)  # warm the connection
            received = b""
            status, at, need = 0, 0, -1
            while need < 0 or len(received) < need:
                chunk = sock.recv(1 << 18)
                if not chunk:
                    raise RuntimeError(f"{url}{path} closed the connection")
                received += chunk
                if need < 0:
                    status, at, need = answer_size(received)
            check_answer(url + path, status, received[at:need], key)
            sock.setblocking(False)
        with selectors.DefaultSelector() as sel:
            return _drive(sel, conns, request, key, url + path, per_client, seconds, server)
    finally:
        for conn in conns:
            conn.sock.close()


def _drive(
    sel: selectors.BaseSelector,
    conns: list[_Conn],
    request: bytes,
    key: bytes,
    where: str,
    per_client: int,
    seconds: float,
    server: Server | None,
) -> Load:
    """:func:`lean_loop`'s measured part: every connection sends ``request`` and, once
    it is answered, the next, until ``seconds`` or ``per_client`` answers."""
    size = len(request)
    view = memoryview(request)
    latencies: list[float] = []

    def send(conn: _Conn) -> None:
        conn.t0 = time.perf_counter()
        try:
            conn.sent = conn.sock.send(request)
        except BlockingIOError:
            conn.sent = 0
        if conn.sent < size:  # a large body: the rest as the socket takes it
            sel.modify(conn.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, conn)

    cpu0 = server.cpu_seconds() if server is not None else 0.0
    c0 = time.thread_time()
    start = time.perf_counter()
    deadline = start + seconds
    for conn in conns:
        sel.register(conn.sock, selectors.EVENT_READ, conn)
        send(conn)
    running = len(conns)
    while running:
        for ready, mask in sel.select():
            conn = ready.data
            if mask & selectors.EVENT_WRITE:
                with contextlib.suppress(BlockingIOError):
                    conn.sent += conn.sock.send(view[conn.sent :])
                if conn.sent >= size:
                    sel.modify(conn.sock, selectors.EVENT_READ, conn)
            if not mask & selectors.EVENT_READ:
                continue
            chunk = conn.sock.recv(1 << 18)
            if not chunk:
                raise RuntimeError(f"{where}: the server closed the connection")
            conn.received += chunk
            if conn.need < 0:
                conn.status, conn.body_at, conn.need = answer_size(conn.received)
                if conn.need < 0:
                    continue
            if len(conn.received) < conn.need:
                continue
            now = time.perf_counter()
            latencies.append(now - conn.t0)
            if len(conn.received) > conn.need:
                raise RuntimeError(f"{where}: more bytes than one answer: {conn.received[:300]!r}")
            check_answer(where, conn.status, conn.received[conn.body_at :], key)
            conn.received, conn.need = b"", -1
            conn.done += 1
            if conn.done < per_client and now < deadline:
                send(conn)
            else:
                sel.unregister(conn.sock)
                running -= 1
    wall = time.perf_counter() - start
    client_cpu = time.thread_time() - c0
    cpu = server.cpu_seconds() - cpu0 if server is not None else 0.0
    return summary(latencies, wall, cpu, client_cpu)


def mlflow_body(x: Any) -> bytes:
    return json.dumps(
        {"dataframe_split": json.loads(x.to_json(orient="split", index=False))}
    ).encode()


def v2_body(x: Any) -> bytes:
    return json.dumps(
        {
            "inputs": [
                {
                    "name": "input-0",
                    "shape": list(x.shape),
                    "datatype": "FP64",
                    "data": x.to_numpy().ravel().tolist(),
                }
            ]
        }
    ).encode()


def _no_paths(cmd: str) -> str:
    """A command line with each absolute path cut to its last part (no machine's paths in a
    record): ``/venv/bin/mlserver start`` -> ``mlserver start``."""
    return " ".join(os.path.basename(w) if w.startswith("/") else w for w in cmd.split(" "))


def busy_processes(server: Server, before: dict[int, float]) -> str:
    """The processes of ``server`` that used CPU since ``before`` (pid -> CPU s), with
    their share: what the server really ran while a row was measured."""
    now = server.processes()
    used = [(cmd, cpu - before.get(pid, 0.0)) for pid, cmd, cpu in now]
    total = sum(c for _, c in used) or 1.0
    shown = [f"{_no_paths(cmd)} {c / total:.0%}" for cmd, c in used if c / total >= 0.02]
    return f"{len(shown)} busy of {len(now)} process(es): " + "; ".join(shown)


@contextlib.contextmanager
def started_pair(
    k: int, first: Callable[[], Server], second: Callable[[], Server]
) -> Iterator[tuple[Server, Server]]:
    """Two servers started in pair ``k``'s order (as :func:`alternate`), yielded as
    (``first``'s, ``second``'s) and stopped after the block, or as soon as the other
    fails to start: no server outlives a failed round."""
    up: list[Server] = []

    def kept(start: Callable[[], Server]) -> Callable[[], Server]:
        def go() -> Server:
            up.append(start())
            return up[-1]

        return go

    try:
        yield alternate(k, kept(first), kept(second))
    finally:
        for server in up:
            server.stop()


def warm(server: Server, path: str, bodies: Iterable[bytes]) -> None:
    """A short load of every body on a just-started server, on 8 connections (each of
    its workers gets some), not measured: first requests pay lazy imports and caches."""
    for body in bodies:
        load_loop(server.url, path, body, 8, 0.3, 400, server)


def bench_http(
    start_ours: Callable[[], Server],
    start_anchor: Callable[[], Server],
    anchor_name: str,
    paths: tuple[str, str],
    bodies: dict[int, tuple[bytes, bytes]],
    rounds: int,
    seconds: float,
    goals: tuple[float, float] | None,
    mode: str = "",
    pin: bool = False,
) -> None:
    """The HTTP rows of one pairing; ``mode`` names the pairing in each row's name,
    ``goals=None`` publishes the rows without holding a goal on them.

    Each round starts both servers afresh (``start_ours``, ``start_anchor``), warms them,
    measures every (rows, clients) case once on each, alternating, and stops them: a row's
    pairs come from ``rounds`` different pairs of server processes, so the variation
    between one server process and the next (where its memory and threads land), which
    moved whole runs when one pair served a whole pairing, is inside a run's spread.
    With ``pin`` both servers run on core 0 and the client on the other cores."""
    cases = [(rows, clients) for rows in bodies for clients in (1, 8)]
    measured: dict[tuple[int, int], list[tuple[Load, Load]]] = {c: [] for c in cases}
    busy: dict[tuple[int, int], str] = {}
    answers = 0
    mark_load()
    for k in range(rounds):
        with (
            started_pair(k, start_ours, start_anchor) as (ours, anchor),
            pinned(ours, anchor) if pin else contextlib.nullcontext(),
        ):
            warm(ours, paths[0], [b for b, _ in bodies.values()])
            warm(anchor, paths[1], [b for _, b in bodies.values()])
            for rows, clients in cases:
                our_body, anchor_body = bodies[rows]
                cap = 4000 if rows == 1 else 800
                ours_before = {pid: c for pid, _, c in ours.processes()}
                anchor_before = {pid: c for pid, _, c in anchor.processes()}
                m, a = alternate(
                    k,
                    functools.partial(
                        load_loop, ours.url, paths[0], our_body, clients, seconds, cap, ours
                    ),
                    functools.partial(
                        load_loop,
                        anchor.url,
                        paths[1],
                        anchor_body,
                        clients,
                        seconds,
                        cap,
                        anchor,
                    ),
                )
                measured[rows, clients].append((m, a))
                answers += m.answers + a.answers
                if rows > 1 and clients > 1:  # what each side ran (ps), last round's
                    busy[rows, clients] = (
                        f"mlopskit ran {busy_processes(ours, ours_before)}; "
                        f"{anchor_name} ran {busy_processes(anchor, anchor_before)}"
                    )
    client_costs: list[str] = []  # the client's own CPU per request, row by row
    for case in cases:
        rows, clients = case

        def of(field: str, case: tuple[int, int] = case) -> list[tuple[float, float]]:
            """(mlopskit's, the anchor's) ``field`` of every pair of ``case``."""
            return [(getattr(m, field), getattr(a, field)) for m, a in measured[case]]

        label = f"{rows} row{'s' if rows > 1 else ''}, {clients} client{'s' if clients > 1 else ''}"
        client_cpu = of("client_cpu")
        client_costs.append(
            f"{label} {statistics.median(c for c, _ in client_cpu) * 1e6:.0f}"
            f"/{statistics.median(c for _, c in client_cpu) * 1e6:.0f} us"
        )
        if mode:
            label += f" [{mode}]"
        elif WORKERS[0] > 1:
            label += f" ({WORKERS[0]} workers each)"
        if case in busy:
            note(f"{label}: {busy[case]}", record=True)
        for what, field, unit, goal, higher in (
            ("http throughput", "rate", "req/s", 0, True),
            ("http p99 latency", "p99", "s", 1, False),
            # the throughput goal as capacity: CPU per request (where /proc gives it)
            ("server CPU per request", "cpu", "CPU s/request", 0, False),
        ):
            values = of(field)
            if field == "cpu" and not all(a > 0 for _, a in values):
                continue
            add_row(
                f"{what} vs {anchor_name}: {label}",
                "http",
                anchor_name,
                values,
                unit=unit,
                goal=None if goals is None else goals[goal],
                higher_is_better=higher,
            )
    note(
        f"client {CLIENT[0]!r} against {anchor_name}"
        + (f" [{mode}]" if mode else "")
        + f": {rounds} rounds, each with both servers started afresh; {answers} answers "
        "checked (status 200, a prediction in the body); the client's own CPU per request "
        "(mlopskit's rows/the anchor's): " + ", ".join(client_costs),
        record=True,
    )


# -- in-process and load ----------------------------------------------------------------------

_INPROC = """
import json, sys, time, statistics
import numpy as np, pandas as pd, sklearn, skops.io  # imported before the timers on both sides
{imports}
x = pd.read_parquet(sys.argv[2])
def load():
    return {load}
t0 = time.perf_counter(); m = load(); first = time.perf_counter() - t0
seconds = []  # a single call swings with the machine's load: the median of 21
for _ in range(21):
    t0 = time.perf_counter(); load(); seconds.append(time.perf_counter() - t0)
second = statistics.median(seconds)
row = x.head(1)
for _ in range(50): m.predict(row)
times, end = [], time.perf_counter() + float(sys.argv[4])
while len(times) < int(sys.argv[3]) or time.perf_counter() < end:
    t0 = time.perf_counter(); m.predict(row); times.append(time.perf_counter() - t0)
print(json.dumps({{"first": first, "second": second, "one_row": statistics.median(times)}}))
"""
"""One process of the in-process rows: ``argv`` = model (workspace or MLflow model dir),
rows (Parquet), least calls, least seconds of calls; the same timing on both sides."""

OURS_INPROC = _INPROC.format(
    imports="import mlopskit as mk\nfrom mlopskit.deploy import Predictor\nmk.set_workspace(sys.argv[1])",
    load='Predictor("bench@champion")',
)
MLFLOW_INPROC = _INPROC.format(
    imports="import mlflow.pyfunc", load="mlflow.pyfunc.load_model(sys.argv[1])"
)


INPROC_SECONDS = 1.5
"""Each side's one-row calls last this long at least (and number ``calls`` at least): the
same window on both sides. Before run30 both made 1,000 calls, ~0.09 s of ours against
~1.2 s of pyfunc's, so a burst of load on the machine could cover our whole window and a
sliver of the anchor's (our per-process medians ranged 2x within one run)."""


def bench_inprocess(
    root: Path, ws: str, mlflow_python: str | None, model_dir: Path | None, rounds: int, calls: int
) -> None:
    """One-row ``predict`` in process, model load and second load: each pair a fresh
    process of ours and one of pyfunc's (``rounds`` x 2 pairs), each timing one-row calls
    for :data:`INPROC_SECONDS` and reporting their median."""
    xfile = root / "x.parquet"
    window = str(INPROC_SECONDS)
    ours_runs, anchor_runs = [], []
    mark_load()

    def ours() -> None:
        out = subprocess.run(
            [sys.executable, "-c", OURS_INPROC, ws, str(xfile), str(calls), window],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": SRC},
        )
        ours_runs.append(json.loads(out.stdout.strip().splitlines()[-1]))

    def anchor() -> None:
        if mlflow_python and model_dir:
            out = subprocess.run(
                [
                    mlflow_python,
                    "-c",
                    MLFLOW_INPROC,
                    str(model_dir),
                    str(xfile),
                    str(calls),
                    window,
                ],
                check=True,
                capture_output=True,
                text=True,
                env={**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true"},
            )
            anchor_runs.append(json.loads(out.stdout.strip().splitlines()[-1]))

    for k in range(rounds * 2):  # a process differs from the next: more pairs
        alternate(k, ours, anchor)
    if anchor_runs:
        pairs = list(zip(ours_runs, anchor_runs))
        add_row(
            f"in-process predict, 1 row ({INPROC_SECONDS:g} s of calls each side): "
            "Predictor vs mlflow.pyfunc",
            "in-process",
            "mlflow 3.17.2",
            [(o["one_row"], a["one_row"]) for o, a in pairs],
            unit="s",
            goal=0.1,
            higher_is_better=False,
        )
        add_row(
            "model load (first, verified): Predictor vs pyfunc.load_model",
            "process",
            "mlflow 3.17.2",
            [(o["first"], a["first"]) for o, a in pairs],
            unit="s",
            goal=1.0,
            higher_is_better=False,
        )
    else:
        note("mlflow venv not given: in-process and load rows against pyfunc skipped")
    add_row(
        "second load in the same process: second/first Predictor",
        "in-process",
        "mlopskit first load",
        [(o["second"], o["first"]) for o in ours_runs],
        unit="s",
        goal=0.01,
        higher_is_better=False,
    )


def bench_bulk(ws: str, model: Any, x: Any, rounds: int) -> None:
    import pandas as pd

    import mlopskit as mk
    from mlopskit.deploy import Predictor

    big = pd.concat([x] * 10, ignore_index=True)
    with mk.Workspace(ws):
        p = Predictor("bench@champion")
    p.predict(big.head(10))
    mark_load()

    def timed(fn: Any) -> tuple[float, float, Any]:
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn(big)
        return time.perf_counter() - t0, time.process_time() - c0, out

    pairs, cpu_pairs = [], []
    for k in range(rounds * 10):  # single calls swing on a shared machine: many pairs
        (t_ours, c_ours, ours), (t_bare, c_bare, bare) = alternate(
            k, lambda: timed(p.predict), lambda: timed(model.predict)
        )
        assert (ours == bare).all()
        pairs.append((t_ours, t_bare))
        cpu_pairs.append((c_ours, c_bare))
    add_row(
        "in-process predict, 100,000 rows: Predictor vs model.predict",
        "in-process",
        "scikit-learn 1.9.1 (bare)",
        pairs,
        unit="s",
        goal=1.1,
        higher_is_better=False,
    )
    # The same calls in CPU time (every thread of this process): what the work costs,
    # without the time other processes held the cores.
    add_row(
        "in-process predict, 100,000 rows (CPU time): Predictor vs model.predict",
        "in-process",
        "scikit-learn 1.9.1 (bare)",
        cpu_pairs,
        unit="CPU s",
        goal=1.1,
        higher_is_better=False,
    )


def bench_router(rounds: int) -> None:
    from mlopskit.deploy import Router

    class Named:
        def __init__(self, name: str) -> None:
            self.name = name

        def predict(self, data: Any) -> Any:
            return data

    r = Router({"champion": Named("a"), "canary": Named("b")}, {"champion": 0.9, "canary": 0.1})
    keys = [f"user-{i}" for i in range(10_000)]
    pairs = []
    mark_load()
    for _ in range(rounds):
        t0 = time.perf_counter()
        for k in keys:
            r.route(k)
        per = (time.perf_counter() - t0) / len(keys)
        pairs.append((per, 20e-6))
    add_row(
        "router overhead per keyed request (2 variants) vs 20 us budget",
        "in-process",
        "budget 20 us",
        pairs,
        unit="s",
        goal=1.0,
        higher_is_better=False,
    )


LOGGER_SECONDS = 30.0  # a cap: a window ends after logger_window() answers (~8 s here)
LOGGER_SEGMENTS = 3
"""Segments the logged server writes in each measured window: the window is this many
times the logger's ``max_rows`` requests (before run30 it was 4,000 requests, fewer
than one segment's 10,000 rows, so no segment was written while it was measured)."""


def logger_window() -> int:
    """Requests in one measured window of the logger rows: :data:`LOGGER_SEGMENTS` times
    ``PredictionLogger``'s default ``max_rows`` (any run of that many consecutive
    requests fills exactly that many segments, whatever the warm-up left buffered)."""
    import inspect

    from mlopskit.deploy import PredictionLogger

    rows = inspect.signature(PredictionLogger).parameters["max_rows"].default
    return LOGGER_SEGMENTS * int(rows)


def bench_logger(
    root: Path,
    ws: str,
    x: Any,
    rounds: int,
    seconds: float,
    pin: bool = False,
    writer: str = "auto",
) -> None:
    """The prediction logger at 100%: one server with it, one without, alternating, both
    started afresh for every pair (the variation between server processes inside the
    row's spread, as in :func:`bench_http`). With ``pin`` both servers run on core 0 (the
    logger's writer thread too) and the client on the others, as in "1 process each": the
    logged server pays its writer's CPU on the core it answers on, and the scheduler's
    placement is out of the ratio. Each side's window is :func:`logger_window` requests
    (``seconds`` at most), so the logged side's figures include writing its segments."""
    where = " [pinned: both servers on core 0]" if pin else ""
    if writer != "auto":  # not the default logger: not the rows with a goal's history
        where += f" [writer={writer}]"
    body = mlflow_body(x.head(1))
    window = logger_window()
    pairs, cpu = [], []
    mark_load()
    for k in range(rounds * 2):
        with started_pair(
            k,
            functools.partial(start_mlopskit, root, ws, log=True, writer=writer),
            functools.partial(start_mlopskit, root, ws),
        ) as (logged, plain):
            with pinned(plain, logged) if pin else contextlib.nullcontext():
                warm(logged, "/invocations", [body])
                warm(plain, "/invocations", [body])
                m, a = alternate(
                    k,
                    functools.partial(
                        load_loop, logged.url, "/invocations", body, 8, seconds, window, logged
                    ),
                    functools.partial(
                        load_loop, plain.url, "/invocations", body, 8, seconds, window, plain
                    ),
                )
            pairs.append((m.rate, a.rate))
            cpu.append((m.cpu, a.cpu))
    segments = f"{LOGGER_SEGMENTS} segments written"
    add_row(
        f"http throughput with the prediction logger at 100% (1 row, 8 clients, {segments}){where}",
        "http",
        "mlopskit without logger",
        pairs,
        unit="req/s",
        goal=1.05,
        higher_is_better=True,
    )
    if all(a > 0 for _, a in cpu):  # the writer thread's work included
        add_row(
            "server CPU per request with the prediction logger at 100% "
            f"(1 row, 8 clients, {segments}){where}",
            "http",
            "mlopskit without logger",
            cpu,
            unit="CPU s/request",
            goal=1.05,
            higher_is_better=False,
        )


def main() -> None:
    from mlopskit.deploy import PredictionLogger

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds, shorter loops")
    ap.add_argument("--json", help="also write the rows to this file")
    ap.add_argument("--mlflow-python", help="python of a venv with mlflow 3.17.2 + scikit-learn")
    ap.add_argument(
        "--mlserver-python", help="python of a venv with mlserver 1.7.1 + mlserver-sklearn"
    )
    ap.add_argument(
        "--workers",
        type=int,
        default=1,
        help="workers of both servers in the HTTP rows against MLflow (serve(workers=N), "
        "mlflow --workers N); MLServer's pairings are --mlserver-modes",
    )
    ap.add_argument(
        "--rounds", type=int, default=0, help="pairs per HTTP row (default 5; --quick 3)"
    )
    ap.add_argument(
        "--mlserver-modes",
        default=",".join(MLSERVER_MODES),
        help="pairings against MLServer, comma-separated: "
        + "; ".join(f"{k} = {v[0]}" for k, v in MLSERVER_MODES.items()),
    )
    ap.add_argument("--http-only", action="store_true", help="only the HTTP rows")
    ap.add_argument(
        "--only-logger",
        action="store_true",
        help="only the prediction logger rows (mlopskit with and without a logger; no anchor)",
    )
    ap.add_argument(
        "--logger-writer",
        choices=PredictionLogger.WRITERS,
        default="auto",
        help="the logged server's PredictionLogger(writer=) (default: auto, what a user "
        "gets; another one is named in the rows)",
    )
    ap.add_argument(
        "--client",
        choices=("lean", "http.client"),
        default="http.client",
        help="the HTTP client of every HTTP row, the same for both servers: 'lean' (raw "
        "keep-alive sockets, one selectors loop) or 'http.client' (a thread per client)",
    )
    ap.add_argument(
        "--no-pin",
        action="store_true",
        help="in '1 process each' and the logger rows, leave servers and client wherever "
        "the scheduler puts them",
    )
    args = ap.parse_args()
    WORKERS[0] = args.workers
    CLIENT[0] = args.client
    rounds = args.rounds or (3 if args.quick else 5)
    seconds = 1.5 if args.quick else 2.0
    root = Path(tempfile.mkdtemp(prefix="bench-serve-"))  # removed at the end ($TMPDIR)
    try:
        run(args, root, rounds, seconds)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(args: argparse.Namespace, root: Path, rounds: int, seconds: float) -> None:
    """Every row (HTTP only with ``--http-only``, the logger's only with
    ``--only-logger``), in ``root``."""
    os.environ.setdefault("MLOPSKIT_CACHE_DIR", str(root / "cache"))
    print(f"bench_serve: work dir {root}", flush=True)
    model, x = make_model(root)
    ws = package_mlopskit(root, model, x)
    x.head(100).to_parquet(root / "x.parquet")
    if args.only_logger:
        bench_logger(
            root, ws, x, rounds, LOGGER_SECONDS, pin=can_pin(args), writer=args.logger_writer
        )
        finish(args)
        return
    model_dir = package_mlflow(root, args.mlflow_python, x) if args.mlflow_python else None

    if not args.http_only:
        bench_router(rounds)
        bench_bulk(ws, model, x, rounds)
        bench_inprocess(
            root, ws, args.mlflow_python, model_dir, rounds, 300 if args.quick else 1000
        )
    # The mode of each side, so the comparison reads honestly.
    w = args.workers
    note(
        f"mlopskit: serve(workers={w}) = {w} process(es), each parsing HTTP and predicting "
        "(bodies <= 1 MiB on the event loop while predictions average <= 2 ms, others on a thread)"
    )
    note(f"mlflow: `mlflow models serve --env-manager local --workers {w}`")
    note(f"load average now {os.getloadavg()[0]:.1f}")
    bodies_mlflow = {n: (mlflow_body(x.head(n)), mlflow_body(x.head(n))) for n in (1, 1000)}
    bodies_v2 = {n: (v2_body(x.head(n)), v2_body(x.head(n))) for n in (1, 1000)}
    if args.mlflow_python and model_dir is not None:
        bench_http(
            functools.partial(start_mlopskit, root, ws, workers=w),
            functools.partial(start_mlflow, root, args.mlflow_python, model_dir),
            "mlflow 3.17.2",
            ("/invocations", "/invocations"),
            bodies_mlflow,
            rounds,
            seconds,
            (1 / 3, 0.5),
        )
    else:
        note("mlflow venv not given: HTTP rows against `mlflow models serve` skipped")
    if args.mlserver_python:
        for key in [m.strip() for m in args.mlserver_modes.split(",") if m.strip()]:
            label, our_workers, parallel_workers, held = MLSERVER_MODES[key]
            note(
                f"mlserver mode {key!r}: serve(workers={our_workers}) vs MLServer "
                f"parallel_workers={parallel_workers}"
                + ("" if held else " (modes differ: published, no goal held)")
            )
            repo = package_mlserver(root, args.mlserver_python, parallel_workers)
            pin = key == "1" and can_pin(args)
            if pin:
                note(f"mlserver mode {key!r}: each server on core 0, the client on the others")
            bench_http(
                functools.partial(start_mlopskit, root, ws, workers=our_workers),
                functools.partial(start_mlserver, root, args.mlserver_python, repo),
                "mlserver 1.7.1",
                ("/v2/models/bench/infer", "/v2/models/bench/infer"),
                bodies_v2,
                rounds,
                seconds,
                (1 / 1.5, 0.5) if held else None,
                mode=label + (", pinned" if pin else ""),
                pin=pin,
            )
    else:
        note("mlserver venv not given: HTTP rows against MLServer skipped")
    if not args.http_only:
        bench_logger(
            root, ws, x, rounds, LOGGER_SECONDS, pin=can_pin(args), writer=args.logger_writer
        )
    finish(args)


def can_pin(args: argparse.Namespace) -> bool:
    """Whether pinned rows pin: 2 or more cores, and not ``--no-pin``."""
    return not args.no_pin and (os.cpu_count() or 1) >= 2


def finish(args: argparse.Namespace) -> None:
    """Print the goals met, and write the JSON file if one was asked for."""
    held = [r for r in ROWS if r["met"] is not None]
    met = sum(r["met"] for r in held)
    print(
        f"\n{met}/{len(held)} goals met ({len(ROWS) - len(held)} rows without a goal)", flush=True
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"bench": "serve", "rows": ROWS, "notes": NOTES}, fh, indent=2)


if __name__ == "__main__":
    main()
