"""Worker processes for the crash and concurrency tests (run as scripts)."""

from __future__ import annotations

import os
import random
import sys
import time


def cas_increments(url: str, name: str, count: int) -> None:
    """Increment the integer a ref points to ``count`` times, by compare-and-swap."""
    from mlopskit.errors import RefConflictError
    from mlopskit.store import ArtifactStore

    store = ArtifactStore(url, cache=False)
    done = conflicts = 0
    while done < count:
        record = store.refs.record(name)
        assert record is not None and record.target is not None
        value = int(store.get_bytes(record.target))
        new = store.put_bytes(str(value + 1).encode())
        try:
            store.refs.set(name, new, expected=record, message=f"pid {os.getpid()}")
        except RefConflictError:
            conflicts += 1
            time.sleep(random.uniform(0, 0.005 * min(conflicts, 10)))  # jittered backoff
            continue
        done += 1
    print(f"done {done} conflicts {conflicts}", flush=True)


def slow_put_file(url: str, src: str) -> None:
    """put_file that stops for a minute after writing its first chunk (to be killed)."""
    from mlopskit.store import ArtifactStore

    real_write = os.write
    calls = [0]

    def slow_write(fd: int, data: object) -> int:
        calls[0] += 1
        if calls[0] == 2:
            print("MIDWAY", flush=True)
            time.sleep(60)
        return real_write(fd, data)  # type: ignore[arg-type]

    os.write = slow_write  # type: ignore[assignment]
    store = ArtifactStore(url, chunk_size=1 << 20)
    store.put_file(src)
    print("FINISHED", flush=True)


if __name__ == "__main__":
    import faulthandler

    if os.environ.get("MLOPSKIT_TEST_DUMP"):
        faulthandler.dump_traceback_later(int(os.environ["MLOPSKIT_TEST_DUMP"]), exit=True)
    command, *args = sys.argv[1:]
    if command == "cas":
        cas_increments(args[0], args[1], int(args[2]))
    elif command == "slow_put_file":
        slow_put_file(args[0], args[1])
    else:  # pragma: no cover
        raise SystemExit(f"unknown command {command}")
