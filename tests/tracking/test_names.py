"""Run names are readable ``adjective-animal-NNN`` and unique within an experiment."""

from __future__ import annotations

import re

import pytest

import mlopskit as mk
from mlopskit.errors import InvalidInputError
from mlopskit.tracking._names import ADJECTIVES, ANIMALS, generate_name

_NAME = re.compile(r"^([a-z]+)-([a-z]+)-(\d{1,3})$")


def test_generated_names_look_like_mlflow_ones() -> None:
    """A generated name is adjective-animal-number from the word lists."""
    for _ in range(200):
        match = _NAME.match(generate_name())
        assert match is not None
        assert match[1] in ADJECTIVES and match[2] in ANIMALS


def test_taken_names_are_skipped() -> None:
    """A name already used is never returned; an exhausted space raises clearly."""

    class AllButOne:
        def __contains__(self, name: object) -> bool:
            return not str(name).endswith("-7")

    assert generate_name(AllButOne(), attempts=100_000).endswith("-7")

    class Everything:
        def __contains__(self, name: object) -> bool:
            return True

    with pytest.raises(InvalidInputError, match="pass name="):
        generate_name(Everything(), attempts=5)


def test_runs_get_unique_readable_names(workspace: str) -> None:
    """Runs started without a name get distinct readable names; a given name is kept."""
    names = []
    for _ in range(30):
        with mk.start_run("named", capture_env=False) as run:
            pass
        names.append(run.name)
    assert all(_NAME.match(n) for n in names)
    assert len(set(names)) == len(names)
    with mk.start_run("named", name="mine", capture_env=False) as run:
        pass
    assert run.name == "mine"
    stored = set(mk.search_runs("named")["name"])
    assert set(names) | {"mine"} == stored
