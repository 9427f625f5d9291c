"""@track(name="{model}-{lr}"): run names formatted from each call's bound arguments;
mk.rename_run renames the active run."""

from __future__ import annotations

from typing import Any

import pytest

import mlopskit as mk
from mlopskit.errors import InvalidInputError, NoActiveRunError


class TestTrackName:
    def test_fields_come_from_arguments_and_defaults(self, workspace: str) -> None:
        """Positional, keyword and default arguments fill the template, format specs
        included; each call gets its own name."""

        @mk.track(experiment="names", name="{model}-{lr:.0e}-{depth}")
        def train(model: str, lr: float, depth: int = 3) -> None:
            pass

        train("rf", 0.01)
        train(model="gb", lr=0.1, depth=5)
        names = set(mk.search_runs("names")["name"])
        assert names == {"rf-1e-02-3", "gb-1e-01-5"}

    def test_kwargs_and_secrets(self, workspace: str) -> None:
        """**kwargs keys can be fields; a secret argument reads *** in the name too."""

        @mk.track(experiment="kw", name="{stage}-{api_key}")
        def run(api_key: str, **extra: Any) -> None:
            pass

        run("s3cr3t", stage="fit")
        (name,) = mk.search_runs("kw")["name"]
        assert name == "fit-***"

    def test_a_field_naming_no_argument_fails_at_decoration(self) -> None:
        """A field that is no parameter (and no **kwargs to take it) is an
        InvalidInputError naming it and the arguments there are."""
        with pytest.raises(InvalidInputError, match=r"\{lr\} names no argument; arguments: model"):

            @mk.track(name="{model}-{lr}")
            def train(model: str) -> None:
                pass

    @pytest.mark.parametrize("template", ["{0}-x", "{}", "{model"])
    def test_positions_and_broken_templates_are_refused(self, template: str) -> None:
        """Fields name arguments, never positions; an unbalanced brace is refused."""
        with pytest.raises(InvalidInputError):

            @mk.track(name=template)
            def train(model: str) -> None:
                pass

    def test_a_key_missing_from_a_call_fails_and_starts_no_run(self, workspace: str) -> None:
        """With **kwargs, a field the call does not pass is an InvalidInputError naming
        it, raised before any run starts."""

        @mk.track(experiment="miss", name="{stage}")
        def run(**extra: Any) -> None:
            pass

        with pytest.raises(InvalidInputError, match="no argument 'stage'"):
            run(other=1)
        assert "miss" not in mk.tracking.current_tracker().experiments()

    def test_braces_escape_and_plain_names_stay(self, workspace: str) -> None:
        """'{{' is a literal brace, and a name with no fields is used as is."""

        @mk.track(experiment="lit", name="{{x}}-{a}")
        def one(a: int) -> None:
            pass

        @mk.track(experiment="lit", name="plain")
        def two(a: int) -> None:
            pass

        one(1)
        two(2)
        assert set(mk.search_runs("lit")["name"]) == {"{x}-1", "plain"}


class TestRenameRun:
    def test_the_active_run_or_one_by_id(self, workspace: str) -> None:
        """mk.rename_run renames the active run, or the run whose id is given."""
        with mk.start_run("r") as run:
            assert mk.rename_run("better").name == "better"
        mk.rename_run("best", run_id=run.run_id)
        assert mk.get_run(run.run_id).name == "best"

    def test_no_active_run(self, workspace: str) -> None:
        """Without an active run or an id, NoActiveRunError says how to start one."""
        with pytest.raises(NoActiveRunError):
            mk.rename_run("x")
