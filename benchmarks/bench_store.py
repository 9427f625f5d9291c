"""Store benchmark: mlopskit vs `dvc add` and vs the physical limit, in the same run.

Each case runs A (mlopskit) and B (the anchor) alternately as whole processes, after one
warm-up pair, and prints medians and the median of the per-pair ratios A/B.
"Cold" means no hash state: a fresh store (and stat cache) for mlopskit; DVC's cache,
``.dvc/tmp`` and its site-cache state database wiped.

    nox -s bench -- store                 # as recorded in docs/performance.md
    python benchmarks/bench_store.py --size-mib 1024 --files 10000 --reps 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PY = sys.executable
HERE = Path(__file__).resolve().parent

FLOOR = r"""
import hashlib, os, sys
src, dst = sys.argv[1], sys.argv[2]
buf = bytearray(8 << 20); view = memoryview(buf); h = hashlib.sha256()
with open(src, "rb", buffering=0) as f, open(dst, "wb", buffering=0) as out:
    while n := f.readinto(buf):
        h.update(view[:n]); out.write(view[:n])
print(h.hexdigest())
"""

PUT_FILE = "import sys; from mlopskit import ArtifactStore; ArtifactStore(sys.argv[1]).put_file(sys.argv[2])"
PUT_DIR = "import sys; from mlopskit import ArtifactStore; ArtifactStore(sys.argv[1]).put_dir(sys.argv[2])"


def dvc_exe() -> str:
    local = Path(PY).with_name("dvc")
    return str(local) if local.exists() else (shutil.which("dvc") or "dvc")


def run(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def paired(
    name: str, a: Callable[[], float], b: Callable[[], float], reps: int, a_label: str, b_label: str
) -> dict[str, float]:
    a(), b()  # warm-up pair
    ta, tb, ratios = [], [], []
    for _ in range(reps):
        x, y = a(), b()
        ta.append(x)
        tb.append(y)
        ratios.append(x / y)
    row = {
        "a": statistics.median(ta),
        "b": statistics.median(tb),
        "ratio": statistics.median(ratios),
    }
    print(
        f"{name:<44} {a_label} {row['a']:7.3f}s   {b_label:<26} {row['b']:7.3f}s   "
        f"ratio {row['ratio']:.3f}",
        flush=True,
    )
    return row


class Dvc:
    """A DVC repository (no SCM) whose hash state can be wiped between runs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.site = root.parent / "dvc-site-cache"
        self.env = dict(os.environ, DVC_NO_ANALYTICS="1", DVC_SITE_CACHE_DIR=str(self.site))
        root.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [dvc_exe(), "init", "--no-scm", "-q", "-f"], cwd=root, env=self.env, check=True
        )

    def wipe(self, target: str) -> None:
        for path in (self.root / ".dvc" / "cache", self.root / ".dvc" / "tmp", self.site):
            shutil.rmtree(path, ignore_errors=True)
        for leftover in (self.root / f"{target}.dvc", self.root / ".gitignore"):
            leftover.unlink(missing_ok=True)

    def add(self, target: str) -> float:
        return run([dvc_exe(), "add", "-q", target], cwd=self.root, env=self.env)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    work = Path(
        args.workdir
        or tempfile.mkdtemp(
            prefix="bench-store-", dir=HERE / "_work" if (HERE / "_work").exists() else None
        )
    )
    work.mkdir(parents=True, exist_ok=True)
    print(f"python {sys.version.split()[0]}, work dir {work}")
    results: dict[str, dict[str, float]] = {}
    try:
        dvc = Dvc(work / "repo")
        big = dvc.root / "big.bin"
        with open(big, "wb") as f:
            for _ in range(args.size_mib):
                f.write(os.urandom(1 << 20))
        data = dvc.root / "data"
        data.mkdir()
        for i in range(args.files):
            (data / f"f{i:05d}.bin").write_bytes(os.urandom(4096))
        time.sleep(2.5)  # sources older than the stat cache's racy window, as real data is

        def mk_put_file() -> float:
            shutil.rmtree(work / "mk", ignore_errors=True)
            return run([PY, "-c", PUT_FILE, str(work / "mk"), str(big)])

        def dvc_add_big() -> float:
            dvc.wipe("big.bin")
            return dvc.add("big.bin")

        def floor_copy() -> float:
            (work / "floor.bin").unlink(missing_ok=True)
            return run([PY, "-c", FLOOR, str(big), str(work / "floor.bin")])

        label = f"{args.size_mib} MiB file, cold"
        results["big_vs_dvc"] = paired(
            f"put_file {label} vs dvc add",
            mk_put_file,
            dvc_add_big,
            args.reps,
            "mlopskit",
            "dvc add",
        )
        results["big_vs_floor"] = paired(
            f"put_file {label} vs hash+copy loop",
            mk_put_file,
            floor_copy,
            args.reps,
            "mlopskit",
            "sha256 while copy",
        )

        def mk_put_dir() -> float:
            shutil.rmtree(work / "mk", ignore_errors=True)
            return run([PY, "-c", PUT_DIR, str(work / "mk"), str(data)])

        def dvc_add_dir() -> float:
            dvc.wipe("data")
            return dvc.add("data")

        results["small_vs_dvc"] = paired(
            f"put_dir {args.files} x 4 KiB, cold vs dvc add",
            mk_put_dir,
            dvc_add_dir,
            args.reps,
            "mlopskit",
            "dvc add",
        )

        # one file changed, hash state warm on both sides
        shutil.rmtree(work / "mk", ignore_errors=True)
        run([PY, "-c", PUT_DIR, str(work / "mk"), str(data)])
        dvc.wipe("data")
        dvc.add("data")
        counter = [0]

        def touch_one() -> None:
            counter[0] += 1
            victim = data / f"f{42:05d}.bin"
            victim.unlink()
            victim.write_bytes(os.urandom(4096))

        def mk_incr() -> float:
            touch_one()
            return run([PY, "-c", PUT_DIR, str(work / "mk"), str(data)])

        def dvc_incr() -> float:
            touch_one()
            return dvc.add("data")

        results["incr_vs_dvc"] = paired(
            "re-put after 1 of those files changed vs dvc add",
            mk_incr,
            dvc_incr,
            args.reps,
            "mlopskit",
            "dvc add",
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print("\ntargets: big/dvc <= 0.5, big/floor <= 1.25, small/dvc <= 0.1, incr/dvc <= 0.2")
    ok = (
        results["big_vs_dvc"]["ratio"] <= 0.5
        and results["big_vs_floor"]["ratio"] <= 1.25
        and results["small_vs_dvc"]["ratio"] <= 0.1
        and results["incr_vs_dvc"]["ratio"] <= 0.2
    )
    print("all targets met" if ok else "some targets missed")


if __name__ == "__main__":
    main()
