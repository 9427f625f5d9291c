"""docs/cli.md is the CLI's own help, regenerated: it cannot drift from the code."""

from __future__ import annotations

from pathlib import Path

from mlopskit.cli._docs import render

PAGE = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_reference_is_up_to_date() -> None:
    """docs/cli.md equals what `python -m mlopskit.cli._docs` prints (regenerate it if not)."""
    assert PAGE.read_text(encoding="utf-8") == render(), (
        "docs/cli.md is stale: run `python -m mlopskit.cli._docs > docs/cli.md`"
    )


def test_reference_covers_every_command() -> None:
    """Every command and subcommand has a section with its usage line and an example."""
    text = render()
    for path in ("runs ls", "runs show", "datasets diff", "models rollback", "store du", "push"):
        assert f"### `mlopskit {path}`" in text
        assert f"Usage: mlopskit {path}" in text
    assert text.count("Example:") >= 25
