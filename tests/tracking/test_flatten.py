"""Params logged as what they are: nested dicts flatten, objects get stable descriptions."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import mlopskit as mk
from mlopskit.errors import InvalidInputError
from mlopskit.tracking._flatten import describe_value, flatten, flatten_params, unflatten

_keys = st.text(st.characters(codec="ascii", exclude_characters="."), min_size=1, max_size=8)
_leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text())
_nested = st.recursive(
    st.dictionaries(_keys, _leaves, max_size=4),
    lambda inner: st.dictionaries(_keys, st.one_of(_leaves, inner), max_size=4),
    max_leaves=20,
)


@given(_nested)
def test_flatten_round_trips(params: dict[str, Any]) -> None:
    """Any nested params dict comes back unchanged from flatten then unflatten."""
    flat = flatten(params)
    assert all(not isinstance(v, dict) or v == {} for v in flat.values())
    assert unflatten(flat) == params


def test_nested_dict_becomes_dotted_keys() -> None:
    """``{"optimizer": {"lr": 0.1}}`` is logged as ``optimizer.lr``."""
    assert flatten({"optimizer": {"lr": 0.1, "betas": {"b1": 0.9}}, "epochs": 3}) == {
        "optimizer.lr": 0.1,
        "optimizer.betas.b1": 0.9,
        "epochs": 3,
    }


def test_colliding_keys_are_refused() -> None:
    """Two paths that flatten to the same key raise instead of one silently winning."""
    with pytest.raises(InvalidInputError, match="appear twice"):
        flatten({"a.b": 1, "a": {"b": 2}})
    with pytest.raises(InvalidInputError, match="must be strings"):
        flatten({1: {"a": 2}})


def test_mapping_with_non_string_keys_is_one_value() -> None:
    """A nested dict keyed by numbers is a value (``{1: 'a'}``), not a group of params."""
    assert flatten({"labels": {0: "cat", 1: "dog"}}) == {"labels": {0: "cat", 1: "dog"}}
    assert flatten_params({"labels": {0: "cat"}}) == {"labels": "{0: 'cat'}"}


class _Plain:
    pass


def _loss(x: float) -> float:
    return x


def test_descriptions_never_show_an_address() -> None:
    """Objects, functions and partials describe as names: the same on every run."""
    text = describe_value(_Plain())
    assert "0x" not in text and text.endswith("_Plain")
    assert describe_value(_loss).endswith("test_flatten._loss")
    assert "0x" not in describe_value(functools.partial(_loss, 1.0))
    assert describe_value([_loss, 1]) == f"[{describe_value(_loss)}, 1]"
    assert describe_value(3) == 3 and describe_value("x") == "x" and describe_value(None) is None


def test_estimator_described_as_class_and_changed_params() -> None:
    """A scikit-learn estimator reads as its class and the params that differ from defaults."""
    lm = pytest.importorskip("sklearn.linear_model")
    pipeline = pytest.importorskip("sklearn.pipeline")
    model = lm.LogisticRegression(C=0.5)
    assert describe_value(model) == "LogisticRegression(C=0.5)"
    pipe = pipeline.Pipeline([("clf", model)])
    assert describe_value(pipe) == "Pipeline(steps=[('clf', LogisticRegression(C=0.5))])"


def test_flatten_params_feeds_log_params(workspace: str) -> None:
    """flatten_params output logs as-is and reads back under dotted names."""
    with mk.start_run("flat") as run:
        run.log_params(flatten_params({"opt": {"lr": 0.01, "fn": _loss}, "n": 2}))
    assert run.params["opt.lr"] == "0.01"
    assert run.params["opt.fn"].endswith("_loss")
    assert run.params["n"] == "2"
