"""PromotionRefusedError lives in mlopskit.errors, under MlopskitError, with typed fields."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import mlopskit.registry
from mlopskit import errors
from mlopskit.registry import GateOutcome, ModelVersion, Registry
from mlopskit.store import ArtifactStore


def _fails(mv: ModelVersion) -> Any:
    return SimpleNamespace(passed=False, run_id=None, name="accuracy")


def _passes(mv: ModelVersion) -> Any:
    return SimpleNamespace(passed=True, run_id=None, name="schema")


class TestPromotionRefusedError:
    def test_a_refused_promotion_is_caught_as_an_mlopskit_error(self, tmp_path: Path) -> None:
        """A failing gate raises errors.PromotionRefusedError (the name the registry
        re-exports), caught by ``except MlopskitError``; its fields say what failed."""
        reg = Registry(ArtifactStore(str(tmp_path / "store")))
        for factor in (1, 2):
            reg.register("clf", {"factor": factor})
        reg.set_alias("clf", "champion", 1)
        with pytest.raises(errors.MlopskitError) as info:
            reg.promote("clf", 2, require=[_passes, _fails])
        err = info.value
        assert isinstance(err, errors.PromotionRefusedError)
        assert mlopskit.registry.PromotionRefusedError is errors.PromotionRefusedError
        assert (err.name, err.alias, err.version) == ("clf", "champion", 2)
        assert [o.passed for o in err.outcomes] == [True, False]
        assert err.found == [err.outcomes[1].gate] and err.expected == "every gate passes"
        assert reg.aliases("clf")["champion"] == 1

    def test_fields_are_keyword_only(self) -> None:
        """Only the message is positional, like the other errors' fields."""
        outcome = GateOutcome(gate="g", passed=False)
        with pytest.raises(TypeError):
            errors.PromotionRefusedError("m", "clf")  # type: ignore[misc]
        err = errors.PromotionRefusedError(
            "m", name="clf", alias="champion", version=3, outcomes=[outcome], results=[None]
        )
        assert (str(err), err.found, err.results) == ("m", ["g"], [None])
