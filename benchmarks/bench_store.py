"""Store benchmark: mlopskit vs DVC 3.x and vs the physical limit, both modes, same run.

Every case runs twice, once per mode, each side in the same mode:

- ``process``: A = ``python -c "...ArtifactStore(p).put_file(f)"``, B = ``dvc add`` (the
  CLI, what a DVC user meets), each a whole process;
- ``in-process``: A = ``ArtifactStore(p).put_file(f)``, B = ``dvc.repo.Repo(root).add(...)``
  (DVC's Python API), both in this process, imports done before timing (what an mlopskit
  user meets: it is a library).

A and B alternate (ABAB...) after one warm-up of each; a row is the median of the per-pair
ratios with their min and max. "Cold" means no hash state: a fresh store (and stat cache)
for mlopskit; DVC's cache, ``.dvc/tmp`` and its site-cache state database wiped (outside
the timed region). Every temporary file is removed at the end, whatever happens.

Every measurement starts with the page cache written back (``os.sync()``, outside the
timed region): the hashed-copy loop and ``dvc add`` return with their copy still dirty in
memory, and without the sync the next side's ``fsync`` (mlopskit publishes an object
only once it is on disk) would wait for the previous side's writes as well as its own.
Same guarantee on both sides: ``put_file`` returns with the object on disk (fsync of the
file, then of its directory), while the plain loop and ``dvc add`` return with their copy
still in the page cache. On a disk where fsync of 1 GiB costs seconds that difference
decides the row, so every ``put_file`` row is published twice: against the anchor as a
user meets it, and against the same anchor made durable (the loop fsyncs its copy; DVC's
cached object is fsynced after ``dvc add``, its time added). The loop is the physical
limit of a hashed copy, so its goal (<= 1.25) is held on the durable loop, the same
work; DVC's goal (<= 0.5) is held on ``dvc add`` as a user meets it, and the durable DVC
row is published beside it.

    nox -s bench_store                     # or nox -s bench_all for the whole record
    python benchmarks/bench_store.py [--quick] [--size-mib 1024 --files 10000 --reps 5] [--json PATH]
                                     [--only file|dir|reput]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _bench import Bench, abab, isolated, make_row, timed, versions  # noqa: E402

PY = sys.executable
BENCH = "store"

FLOOR = r"""
import hashlib, os, sys
src, dst = sys.argv[1], sys.argv[2]
buf = bytearray(8 << 20); view = memoryview(buf); h = hashlib.sha256()
with open(src, "rb", buffering=0) as f, open(dst, "wb", buffering=0) as out:
    while n := f.readinto(buf):
        h.update(view[:n]); out.write(view[:n])
print(h.hexdigest())
"""

# The same loop, then fsync: a durable copy, the work put_file does before it publishes.
FLOOR_DURABLE = FLOOR.replace(
    "        h.update(view[:n]); out.write(view[:n])\n",
    "        h.update(view[:n]); out.write(view[:n])\n    os.fsync(out.fileno())\n",
)
assert FLOOR_DURABLE != FLOOR

PUT_FILE = "import sys; from mlopskit import ArtifactStore; ArtifactStore(sys.argv[1]).put_file(sys.argv[2])"
PUT_DIR = "import sys; from mlopskit import ArtifactStore; ArtifactStore(sys.argv[1]).put_dir(sys.argv[2])"


def floor_copy(src: str, dst: str, durable: bool = False) -> str:
    """One pass: read 8 MiB, hash it, write it (the physical limit of a hashed copy);
    with ``durable``, fsync the copy before returning, as ``put_file`` does."""
    buf = bytearray(8 << 20)
    view = memoryview(buf)
    h = hashlib.sha256()
    with open(src, "rb", buffering=0) as f, open(dst, "wb", buffering=0) as out:
        while n := f.readinto(buf):
            h.update(view[:n])
            out.write(view[:n])
        if durable:
            os.fsync(out.fileno())
    return h.hexdigest()


def fsync_tree(root: Path) -> float:
    """fsync every file under ``root`` (DVC's cache after an add): the seconds it took."""
    t0 = time.perf_counter()
    for path in root.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    return time.perf_counter() - t0


def dvc_exe() -> str | None:
    local = Path(PY).with_name("dvc")
    return str(local) if local.exists() else shutil.which("dvc")


def run(cmd: list[str], cwd: Path | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


class Dvc:
    """A DVC repository (no SCM) whose hash state can be wiped between runs."""

    def __init__(self, root: Path, exe: str) -> None:
        self.root = root
        self.exe = exe
        root.mkdir(parents=True, exist_ok=True)
        subprocess.run([exe, "init", "--no-scm", "-q", "-f"], cwd=root, check=True)

    def wipe(self, target: str) -> None:
        site = Path(os.environ["DVC_SITE_CACHE_DIR"])
        for path in (self.root / ".dvc" / "cache", self.root / ".dvc" / "tmp", site):
            shutil.rmtree(path, ignore_errors=True)
        for leftover in (self.root / f"{target}.dvc", self.root / ".gitignore"):
            leftover.unlink(missing_ok=True)

    def add_cli(self, target: str) -> float:
        return run([self.exe, "add", "-q", target], cwd=self.root)

    def add_api(self, target: str) -> float:
        from dvc.repo import Repo

        here = os.getcwd()
        os.chdir(self.root)  # DVC resolves targets against the working directory
        try:
            t0 = time.perf_counter()
            with Repo(str(self.root)) as repo:
                repo.add(target)
            return time.perf_counter() - t0
        finally:
            os.chdir(here)


def have_dvc_api() -> bool:
    try:
        import dvc.repo  # noqa: F401  (imported here, outside every timed region)
    except ImportError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="64 MiB, 500 files, 3 pairs")
    parser.add_argument("--json", help="write this bench's record here")
    parser.add_argument("--no-dvc", action="store_true", help="only the rows against the loop")
    parser.add_argument(
        "--only",
        choices=["file", "dir", "reput"],
        help="only the put_file rows, the cold put_dir rows, or the re-put rows",
    )
    args = parser.parse_args()
    if args.quick:
        args.size_mib, args.files, args.reps = 64, 500, 3
    bench = Bench(BENCH)
    work = Path(tempfile.mkdtemp(prefix="bench-store-"))
    v = versions(["dvc"])
    dvc_label = f"dvc {v['dvc']}" if "dvc" in v else "dvc"
    print(f"python {sys.version.split()[0]}, {dvc_label}, work dir {work}", flush=True)
    stack = contextlib.ExitStack()
    try:
        stack.enter_context(isolated(work))  # before DVC is imported
        from mlopskit import ArtifactStore  # imported before any timed region

        exe = None if args.no_dvc else dvc_exe()
        api = not args.no_dvc and have_dvc_api()
        if exe is None:
            bench.skipped("every dvc row (dvc not installed: nox -s bench_store has it)")
        repo_root = work / "repo"
        dvc = Dvc(repo_root, exe) if exe else None
        repo_root.mkdir(parents=True, exist_ok=True)
        big = repo_root / "big.bin"
        with open(big, "wb") as f:
            for _ in range(args.size_mib if args.only in (None, "file") else 0):
                f.write(os.urandom(1 << 20))
        data = repo_root / "data"
        data.mkdir()
        for i in range(args.files):
            (data / f"f{i:05d}.bin").write_bytes(os.urandom(4096))
        time.sleep(2.5)  # sources older than the stat cache's racy window, as real data is
        mk = work / "mk"

        def fresh() -> None:
            shutil.rmtree(mk, ignore_errors=True)

        # -- A sides ---------------------------------------------------------------------------
        def mk_put_file_proc() -> float:
            fresh()
            return run([PY, "-c", PUT_FILE, str(mk), str(big)])

        def mk_put_file_api() -> float:
            fresh()
            return timed(lambda: ArtifactStore(mk).put_file(big))

        def mk_put_dir_proc() -> float:
            fresh()
            return run([PY, "-c", PUT_DIR, str(mk), str(data)])

        def mk_put_dir_api() -> float:
            fresh()
            return timed(lambda: ArtifactStore(mk).put_dir(data))

        # -- B sides ---------------------------------------------------------------------------
        def floor_proc() -> float:
            (work / "floor.bin").unlink(missing_ok=True)
            return run([PY, "-c", FLOOR, str(big), str(work / "floor.bin")])

        def floor_durable_proc() -> float:
            (work / "floor.bin").unlink(missing_ok=True)
            return run([PY, "-c", FLOOR_DURABLE, str(big), str(work / "floor.bin")])

        def floor_api() -> float:
            (work / "floor.bin").unlink(missing_ok=True)
            return timed(lambda: floor_copy(str(big), str(work / "floor.bin")))

        def floor_durable_api() -> float:
            (work / "floor.bin").unlink(missing_ok=True)
            return timed(lambda: floor_copy(str(big), str(work / "floor.bin"), durable=True))

        def dvc_cold(target: str, how: str, durable: bool = False) -> Callable[[], float]:
            assert dvc is not None

            def go() -> float:
                dvc.wipe(target)
                took = dvc.add_cli(target) if how == "cli" else dvc.add_api(target)
                if durable:  # the object DVC cached, on disk as put_file leaves its own
                    took += fsync_tree(repo_root / ".dvc" / "cache")
                return took

            return go

        modes: list[tuple[str, str]] = [("process", "cli")]
        if api:
            modes.append(("in-process", "api"))
        elif dvc:
            bench.skipped("in-process dvc rows (dvc's Python API is not importable)")

        size = f"{args.size_mib} MiB" if args.size_mib < 1024 else f"{args.size_mib // 1024} GiB"
        a_file = {"process": mk_put_file_proc, "in-process": mk_put_file_api}
        a_dir = {"process": mk_put_dir_proc, "in-process": mk_put_dir_api}
        files = args.only in (None, "file")
        for mode, how in modes if dvc and files else []:
            add(
                bench,
                f"put_file {size}, cold, vs dvc add",
                mode,
                f"{dvc_label} add" + (" (CLI)" if how == "cli" else " (Repo.add)"),
                a_file[mode],
                dvc_cold("big.bin", how),
                args.reps,
                "<= 0.5",
            )
            add(
                bench,
                f"put_file {size}, cold, vs dvc add + fsync of what it cached (both durable)",
                mode,
                f"{dvc_label} add" + (" (CLI)" if how == "cli" else " (Repo.add)") + ", then fsync",
                a_file[mode],
                dvc_cold("big.bin", how, durable=True),
                args.reps,
                None,
            )
        loops = (
            ("process", floor_proc, floor_durable_proc),
            ("in-process", floor_api, floor_durable_api),
        )
        for mode, plain, durable in loops if files else ():
            add(
                bench,
                f"put_file {size}, cold, vs a sha256-while-copy loop",
                mode,
                "8 MiB readinto+sha256+write loop",
                a_file[mode],
                plain,
                args.reps,
                None,
            )
            add(
                bench,
                f"put_file {size}, cold, vs the same loop + fsync (a durable copy)",
                mode,
                "8 MiB readinto+sha256+write loop, then fsync",
                a_file[mode],
                durable,
                args.reps,
                "<= 1.25",
            )
        for mode, how in modes if dvc and args.only in (None, "dir") else []:
            add(
                bench,
                f"put_dir {args.files:,} x 4 KiB, cold, vs dvc add",
                mode,
                f"{dvc_label} add" + (" (CLI)" if how == "cli" else " (Repo.add)"),
                a_dir[mode],
                dvc_cold("data", how),
                args.reps,
                "<= 0.1",
            )

        # one file changed, hash state warm on both sides
        def touch_one() -> None:
            victim = data / f"f{42 % args.files:05d}.bin"
            victim.unlink()
            victim.write_bytes(os.urandom(4096))

        for mode, how in modes if dvc and args.only in (None, "reput") else []:
            assert dvc is not None
            fresh()
            ArtifactStore(mk).put_dir(data)
            dvc.wipe("data")
            dvc.add_cli("data")

            def mk_incr(mode: str = mode) -> float:
                touch_one()
                if mode == "process":
                    return run([PY, "-c", PUT_DIR, str(mk), str(data)])
                return timed(lambda: ArtifactStore(mk).put_dir(data))

            def dvc_incr(how: str = how) -> float:
                assert dvc is not None
                touch_one()
                return dvc.add_cli("data") if how == "cli" else dvc.add_api("data")

            add(
                bench,
                "re-put after 1 of those files changed, vs dvc add",
                mode,
                f"{dvc_label} add" + (" (CLI)" if how == "cli" else " (Repo.add)"),
                mk_incr,
                dvc_incr,
                args.reps,
                "<= 0.2",
            )
    finally:
        stack.close()
        shutil.rmtree(work, ignore_errors=True)
    bench.summary()
    bench.write(args.json)


def settled(measure: Callable[[], float]) -> Callable[[], float]:
    """``measure`` started with no dirty pages left by the previous measurement."""

    def go() -> float:
        os.sync()  # outside the timed region: each side pays only for its own writes
        return measure()

    return go


def add(
    bench: Bench,
    row: str,
    mode: str,
    anchor: str,
    a: Callable[[], float],
    b: Callable[[], float],
    reps: int,
    goal: str | None,
) -> dict[str, Any]:
    xs, ys = abab(settled(a), settled(b), reps)
    return bench.add(make_row(row, mode=mode, anchor=anchor, a=xs, b=ys, unit="s", goal=goal))


if __name__ == "__main__":
    main()
