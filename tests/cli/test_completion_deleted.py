"""Shell completion offers the same things for models as for datasets: what is left."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner

from mlopskit.cli import cli


def complete(words: str) -> list[str]:
    """What bash completion offers for the command line ``words``."""
    argv = words.split()
    result = CliRunner().invoke(
        cli,
        [],
        prog_name="mlopskit",
        env={
            "_MLOPSKIT_COMPLETE": "bash_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(argv) - (0 if words.endswith(" ") else 1)),
        },
    )
    return [line.split(",", 1)[1] for line in result.stdout.splitlines() if "," in line]


def test_a_model_whose_every_version_is_deleted_is_not_offered(populated: dict[str, Any]) -> None:
    """A model with no version left drops out of name and URI completion; the others stay."""
    import mlopskit as mk

    root = populated["root"]
    registry = mk.Workspace(root).registry
    before = complete(f"mlopskit -w {root} models rollback ")
    registry.register("gone", b"weights")
    registry.delete_version("gone", 1)
    assert complete(f"mlopskit -w {root} models rollback ") == before
    assert "gone" not in before
    offered = complete(f"mlopskit -w {root} models show ")
    assert not [u for u in offered if u.startswith("gone")]
    assert "clf@champion" in offered
