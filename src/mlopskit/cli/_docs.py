"""docs/cli.md, generated from the CLI's own help: ``python -m mlopskit.cli._docs > docs/cli.md``.

tests/cli/test_docs_cli.py fails when docs/cli.md differs from :func:`render`, so the
reference can never drift from ``--help``.
"""

from __future__ import annotations

from collections.abc import Iterator

import click

from mlopskit.cli._app import cli

WIDTH = 92

INTRO = """\
# Command line

`mlopskit` is a thin command line over the public API: look at runs, datasets and models,
check and clean the store, walk lineage, compare data for drift, and `push` / `pull` a
workspace to another place. It is installed with the library:

```bash
pip install pymlopskit            # the distribution name; the import name is mlopskit
mlopskit --help                   # or: python -m mlopskit --help
```

(`pip install mlopskit` installs an unrelated, empty placeholder: use `pymlopskit`.)

## Conventions

- **Workspace**: `--workspace PATH|URL` (or `-w`) before the command, else `MLOPSKIT_HOME`,
  else `./.mlopskit`. A local workspace that does not exist is an error (exit 2), never a
  new empty one. Remote workspaces (`s3://…`) work for every command.
- **`--json`** on every listing and show command prints machine-readable JSON on stdout:
  times in ISO 8601 UTC, NaN and infinities as `null`; indented on a terminal, compact
  when piped.
- **Exit codes**:

  | code | meaning |
  | --- | --- |
  | 0 | success |
  | 1 | a check failed or was refused: `store verify` found damage, `drift` found drift, `datasets diff --exit-code` found changes, `push`/`pull` refused a diverged ref; also damaged stored data or a storage failure |
  | 2 | usage error or not found: a bad option, an unknown run/dataset/model/alias, a missing workspace or file, a missing optional dependency |

- **Errors** are one line on stderr, `error: <ErrorType>: <what was expected, what was
  found, what to do>`, never a traceback. An unexpected error (a bug) is one line too,
  exit 1; `MLOPSKIT_DEBUG=1` shows its traceback.
- **Shell completion** (click's): `eval "$(mlopskit completion bash)"` in `~/.bashrc`
  (or `zsh`, `fish`), then `mlopskit mo<TAB>`.
- **Speed**: the command line loads pandas, the store or tracking only when a command
  needs them. Measured with `python benchmarks/bench_cli.py` (whole processes, medians
  of 20): `mlopskit --help` takes 0.06 s of CPU (`mlflow --help`: 3.2 s), `mlopskit runs
  ls` on 10,000 runs 0.19 s of CPU (0.31 s with `--json`); on an idle machine wall time
  is about the CPU time plus interpreter start.

## push and pull

`mlopskit push REMOTE` sends the workspace's refs (datasets, model versions and aliases,
run artifacts, `@versioned` results, lineage edges), everything they reach, and its runs
to another workspace — a path, `s3://bucket/prefix`, any fsspec URL; `pull` is its mirror.

1. Only **missing objects** are copied: the objects the sent refs reach are walked in the
   source, a subtree whose root the target already holds is skipped (same digest, same
   bytes), and the rest is copied children first, verified as it is read. A directory
   tree of mostly new files goes whole, in pack files (one request per pack, not per
   file); a changed tree sends only the files the target lacks.
2. Then **refs**, each with its whole history, by **compare-and-swap**: a ref the target
   holds a prefix of is fast-forwarded; a ref the target holds more of is left alone
   ("behind": pull it); a ref the two sides moved differently (a push from another
   machine) is **refused** — `RefConflictError`, exit 1 — never overwritten, while every
   other ref is still sent. Pull, decide, move the ref (e.g. `models alias`), push again.
   Appended records keep their message; the original author, host and time are in
   `meta["sync"]`.
3. Then **runs**: the finished runs the target lacks — params, tags, every metric
   point, artifacts, inputs, status and times — from SQLite (a local workspace) to
   segment files (`s3://`) and back. A run on both sides is left alone; a run still
   running is left out until it ends. `--no-runs` skips this step (so does `--prefix`).

`--dry-run` reports what would be sent and writes nothing; `--prefix models/clf` sends
one subtree of refs; `--progress` draws a bar (tqdm, `pip install 'pymlopskit[progress]'`).
Trust marks of pickles travel only with `--trust` (`trust=True` in Python): without it a
pickled model pulled from elsewhere loads with `trusted=True` only, because anyone who
can write the source can plant a mark there (docs/security.md).

The same from Python (`mlopskit.sync`):

```python
import json
import subprocess
import sys

import mlopskit as mk
from mlopskit.sync import pull, push

with mk.Workspace("laptop"):
    mk.registry.register("clf", {"weights": [0.1, 0.2]})
    mk.registry.set_alias("clf", "champion", 1)

dry = push("team-remote", workspace="laptop", dry_run=True)
assert dry.objects_copied == 0 and dry.objects_missing > 0

report = push("team-remote", workspace="laptop")
assert [u.action for u in report.updated][:1] == ["create"]
assert push("team-remote", workspace="laptop").objects_copied == 0  # nothing new

pull("team-remote", workspace="desktop")
assert report.runs_copied == 0  # no runs were logged in "laptop"
listing = subprocess.run(
    [sys.executable, "-m", "mlopskit", "-w", "desktop", "models", "ls", "--json"],
    capture_output=True, text=True, check=True,
)
assert json.loads(listing.stdout)[0]["aliases"] == {"champion": 1}
```

Runs deletion and restore (`runs delete|restore`) are not there yet: they need soft
deletion in the tracking backends.

## Reference

Generated from `--help` (`python -m mlopskit.cli._docs > docs/cli.md`).
"""


def _walk(cmd: click.Command, ctx: click.Context) -> Iterator[tuple[click.Command, click.Context]]:
    yield cmd, ctx
    if isinstance(cmd, click.Group):
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            yield from _walk(sub, click.Context(sub, info_name=name, parent=ctx))


def render() -> str:
    """The whole of docs/cli.md: the introduction, then every command's ``--help``."""
    root = click.Context(
        cli,
        info_name="mlopskit",
        terminal_width=WIDTH,
        max_content_width=WIDTH,
        help_option_names=["-h", "--help"],
    )
    parts = [INTRO]
    for cmd, ctx in _walk(cli, root):
        title = ctx.command_path
        parts.append(f"### `{title}`\n\n```text\n{cmd.get_help(ctx).rstrip()}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    print(render(), end="")
