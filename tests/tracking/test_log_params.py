"""log_params logs values as what they are: nested dicts as dotted names, objects as stable
descriptions (issue 12), through every door: Run.log_params, mk.log_params, start_run and
@track."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlopskit as mk
from mlopskit.tracking import unflatten


def _loss(y: Any) -> float:
    return 0.0


class TestNestedParams:
    def test_run_log_params_flattens_nested_dicts(self, workspace: str) -> None:
        """{"optimizer": {"lr": 0.1}} is logged as optimizer.lr."""
        with mk.start_run("nested") as run:
            run.log_params({"optimizer": {"lr": 0.1, "betas": {"b1": 0.9}}, "epochs": 3})
        assert run.params == {"optimizer.lr": "0.1", "optimizer.betas.b1": "0.9", "epochs": "3"}

    def test_fluent_log_params_and_start_run_flatten_too(self, workspace: str) -> None:
        """mk.log_params and start_run(params=) flatten the same way."""
        with mk.start_run("fluent", params={"data": {"split": 0.2}}) as run:
            mk.log_params({"model": {"depth": 4}})
            mk.log_param("opt", {"name": "adam"})
        assert run.params == {"data.split": "0.2", "model.depth": "4", "opt.name": "adam"}

    def test_estimators_and_functions_are_described_without_addresses(self, workspace: str) -> None:
        """An estimator logs as its class and changed params, a function as its qualified
        name; no value holds a memory address."""
        linear = pytest.importorskip("sklearn.linear_model")
        with mk.start_run("objects") as run:
            mk.log_params({"model": linear.LogisticRegression(C=0.5), "loss": _loss})
        assert run.params["model"] == "LogisticRegression(C=0.5)"
        assert run.params["loss"] == f"{__name__}._loss"
        assert not any("0x" in v for v in run.params.values())

    def test_the_same_params_log_the_same_strings_in_two_runs(self, workspace: str) -> None:
        """Descriptions are stable, so re-logging in a new process-like context compares
        equal (the point of never logging an address)."""
        linear = pytest.importorskip("sklearn.linear_model")
        seen = []
        for _ in range(2):
            with mk.start_run("stable") as run:
                mk.log_params({"m": linear.Ridge(alpha=2.0), "f": _loss, "o": object()})
            seen.append(run.params)
        assert seen[0] == seen[1]

    def test_track_redacts_a_secret_nested_in_a_dict_argument(self, workspace: str) -> None:
        """@track flattens a dict argument and redacts a nested secret by its name."""

        ids: list[str] = []

        @mk.track
        def connect(config: dict[str, Any]) -> None:
            ids.append(mk.active_run().run_id)

        connect({"db": {"host": "h", "password": "hunter2"}})
        run = mk.get_run(ids[0])
        assert run.params["config.db.host"] == "h"
        assert run.params["config.db.password"] == "***"
        assert "hunter2" not in str(run.params)


_keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=6)
_leaves = st.one_of(
    st.integers(),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=st.characters(codec="ascii", categories=["L", "N", "P", "Zs"])),
)
_nested = st.recursive(
    st.dictionaries(_keys, _leaves, min_size=1, max_size=4),
    lambda inner: st.dictionaries(_keys, st.one_of(_leaves, inner), min_size=1, max_size=4),
    max_leaves=12,
)
_WS = f"memory://log-params-{uuid.uuid4().hex[:8]}"


def _as_logged(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _as_logged(v) for k, v in node.items()}
    return node if isinstance(node, str) else str(node)


@settings(max_examples=40, deadline=None)
@given(_nested)
def test_any_nested_params_dict_round_trips(params: dict[str, Any]) -> None:
    """Logged through Run.log_params and read back, unflatten gives the nested dict (values
    as the strings params are stored as)."""
    with mk.Workspace(_WS), mk.start_run("prop", capture_env=False) as run:
        run.log_params(params)
    with mk.Workspace(_WS):
        stored = mk.get_run(run.run_id).params
    assert unflatten(stored) == _as_logged(params)
