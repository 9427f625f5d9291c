"""Push 10,000 small files to an S3 server: `mlopskit push` against `dvc push`.

    python benchmarks/bench_sync.py [--files 10000] [--size 4096] [--n 3] [--quick]
                                    [--json out.json] [--dvc PATH]

Both sides push the same files to the same server — the tests' moto S3 server on
127.0.0.1 (``tests/_s3counting.py``: moto, one request at a time, each counted) — as the
user runs them, one CLI process per push:

- mlopskit: the files committed once as a dataset (``mk.datasets.commit(name, dir)``)
  in a local workspace, then ``mlopskit -w WS push s3://bucket/ml-<i> --no-runs``;
- DVC: the files added once (``dvc init --no-scm`` + ``dvc add``), then ``dvc push`` to
  a remote ``s3://bucket/dvc-<i>`` (``endpointurl`` the same server).

Every round pushes to a fresh prefix (a cold remote: every object is missing), the two
alternating (ABAB) after one warm-up push each. The setup (files, commit, ``dvc add``)
is outside the timed region. DVC needs ``dvc`` and ``dvc-s3``: ``nox -s bench_sync``
installs both (``--dvc PATH`` points at another ``dvc`` executable); without them only
the mlopskit side runs. Rows (``--json``): the wall time and the number of requests the
server saw per push, ``{"row", "mode": "process", "anchor", "ratio", "min", "max", "n",
"goal", "met", "mlopskit", "anchor_value", "unit"}``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SRC = str(ROOT / "src")
sys.path.insert(0, SRC)
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests"))

from _bench import isolated, make_row  # noqa: E402

GOAL = "<= 0.2"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def make_files(where: Path, n: int, size: int) -> None:
    """``n`` files of ``size`` random bytes in 100 subdirectories (same bytes every run)."""
    rng = random.Random(0)
    for i in range(n):
        sub = where / f"d{i % 100:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{i:05d}.bin").write_bytes(rng.randbytes(size))


def env(endpoint: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k != "MLOPSKIT_HOME"}
    out["PYTHONPATH"] = SRC + os.pathsep + out.get("PYTHONPATH", "")
    out.update(CREDENTIALS, AWS_ENDPOINT_URL=endpoint)
    return out


def run(cmd: list[str], cwd: Path, endpoint: str) -> float:
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, env=env(endpoint), capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    return elapsed


def mlopskit_cmd() -> list[str]:
    script = shutil.which("mlopskit", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "mlopskit"]


def dvc_cmd(explicit: str | None) -> list[str] | None:
    if explicit:
        return [explicit]
    local = Path(sys.executable).with_name("dvc")
    if local.exists():
        return [str(local)]
    found = shutil.which("dvc")
    return [found] if found else None


class Sides:
    """The two pushes, each to a fresh prefix of one bucket, counting requests."""

    def __init__(self, work: Path, server: Any, bucket: str, dvc: list[str] | None) -> None:
        self.work, self.server, self.bucket, self.dvc = work, server, bucket, dvc
        self.round = 0

    def ours(self) -> tuple[float, int]:
        self.round += 1
        url = f"s3://{self.bucket}/ml-{self.round}"
        self.server.reset()
        t = run(
            [*mlopskit_cmd(), "-w", str(self.work / "ws"), "push", url, "--no-runs"],
            self.work,
            self.server.endpoint,
        )
        return t, sum(self.server.counts().values())

    def theirs(self) -> tuple[float, int]:
        assert self.dvc is not None
        self.round += 1
        repo = self.work / "dvc-repo"
        url = f"s3://{self.bucket}/dvc-{self.round}"
        run([*self.dvc, "remote", "add", "-f", "-d", "bench", url], repo, self.server.endpoint)
        run(
            [*self.dvc, "remote", "modify", "bench", "endpointurl", self.server.endpoint],
            repo,
            self.server.endpoint,
        )
        self.server.reset()
        t = run([*self.dvc, "push", "-q"], repo, self.server.endpoint)
        return t, sum(self.server.counts().values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=4096, help="bytes per file")
    parser.add_argument("--n", type=int, default=3, help="timed pushes per side")
    parser.add_argument("--quick", action="store_true", help="1,000 files, n=2")
    parser.add_argument("--json", metavar="PATH", help="write the rows to this file")
    parser.add_argument("--dvc", metavar="PATH", help="the dvc executable (with dvc-s3)")
    args = parser.parse_args()
    files, n = (1_000, 2) if args.quick else (args.files, args.n)
    work = Path(tempfile.mkdtemp(prefix="mlopskit-bench-sync-"))
    rows: list[dict[str, Any]] = []
    with isolated(work):
        os.environ.update(CREDENTIALS)
        from _s3counting import RequestLog

        server = RequestLog.start()
        try:
            import s3fs

            bucket = "bench-sync"
            s3fs.S3FileSystem(client_kwargs={"endpoint_url": server.endpoint}).mkdir(bucket)
            data = work / "files"
            make_files(data, files, args.size)
            import mlopskit as mk

            with mk.Workspace(work / "ws"):
                mk.datasets.commit("files", str(data), message="bench")
            dvc = dvc_cmd(args.dvc)
            if dvc is not None:
                repo = work / "dvc-repo"
                repo.mkdir()
                run([*dvc, "init", "--no-scm", "-q"], repo, server.endpoint)
                shutil.copytree(data, repo / "files")
                run([*dvc, "add", "-q", "files"], repo, server.endpoint)
                label = subprocess.run(
                    [*dvc, "--version"], capture_output=True, text=True, check=True
                ).stdout.strip()
            else:
                print("(dvc not found: only the mlopskit side runs; nox -s bench_sync has it)")
            sides = Sides(work, server, bucket, dvc)
            print(
                f"{files:,} files x {args.size} B; mlopskit {mk.__version__}"
                + (f", dvc {label}" if dvc else ""),
                flush=True,
            )
            sides.ours()  # warm-up
            if dvc is not None:
                sides.theirs()
            a_t, a_r, b_t, b_r = [], [], [], []
            for _ in range(n):  # ABAB
                t, r = sides.ours()
                a_t.append(t)
                a_r.append(r)
                print(f"  mlopskit push {t:.2f} s, {r} requests", flush=True)
                if dvc is not None:
                    t, r = sides.theirs()
                    b_t.append(t)
                    b_r.append(r)
                    print(f"  dvc push      {t:.2f} s, {r} requests", flush=True)
            what = f"push {files:,} x {args.size // 1024} KiB files to S3 (moto)"
            if dvc is not None:
                anchor = f"dvc {label} push (CLI, dvc-s3)"
                rows.append(
                    make_row(what, mode="process", anchor=anchor, a=a_t, b=b_t, unit="s", goal=GOAL)
                )
                rows.append(
                    make_row(
                        f"{what}: requests",
                        mode="process",
                        anchor=anchor,
                        a=a_r,
                        b=b_r,
                        unit="requests",
                    )
                )
                for r in rows:
                    print(
                        f"{r['row']}: {r['mlopskit']:.3g} vs {r['anchor_value']:.3g} {r['unit']}, "
                        f"ratio {r['ratio']:.3g} (min {r['min']:.3g}, max {r['max']:.3g}, "
                        f"n={r['n']}) goal {r['goal'] or '-'}: "
                        f"{'met' if r['met'] else 'NOT met' if r['met'] is False else '-'}"
                    )
        finally:
            server.stop()
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
