"""The SQL a SQLite search narrows with and the Python filter agree on every run."""

from __future__ import annotations

import math
import time
import uuid
import warnings
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlopskit.errors import NotFoundError
from mlopskit.tracking import RunRecord, SQLiteBackend, Tracker
from mlopskit.tracking._query import compile_filter, parse_filter
from mlopskit.tracking._search import get_value

#: Text values chosen to sort differently by bytes, case and code point ('é' > 'z').
TEXTS = ["", "a", "A", "ab", "b", "z", "é", "10", "9", "1e3", "a'b", "%", "_", "\\"]
NUMBERS = [-math.inf, -1.5, 0.0, 0.5, 1, 1.0, 2.5, 1e300, math.inf]

RUN = st.fixed_dictionaries(
    {
        "p": st.one_of(st.none(), st.sampled_from(TEXTS)),
        "t": st.one_of(st.none(), st.sampled_from(TEXTS)),
        "m": st.one_of(st.none(), st.just(math.nan), st.sampled_from(NUMBERS)),
    }
)


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _number(x: float) -> str:
    return repr(x) if math.isfinite(x) else ("1e999" if x > 0 else "-1e999")


OP = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])
TEXT_FIELD = st.sampled_from(["params.p", "tags.t"])
# conjuncts candidates() translates (exact answers) ...
EXACT = st.one_of(
    st.builds(lambda f, o, v: f"{f} {o} {_quote(v)}", TEXT_FIELD, OP, st.sampled_from(TEXTS)),
    st.builds(lambda o, v: f"metrics.m {o} {_number(v)}", OP, st.sampled_from(NUMBERS)),
    st.builds(
        lambda f, vs: f"{f} IN ({', '.join(map(_quote, vs))})",
        TEXT_FIELD,
        st.lists(st.sampled_from(TEXTS), min_size=1, max_size=3),
    ),
)
# ... and ones it leaves to Python (numbers against text, LIKE, NOT IN, IS NULL)
LOOSE = st.one_of(
    st.builds(lambda f, o, v: f"{f} {o} {v}", TEXT_FIELD, OP, st.sampled_from(["1", "9.5"])),
    st.builds(
        lambda f, o, v: f"{f} {o} {_quote(v)}",
        TEXT_FIELD,
        st.sampled_from(["LIKE", "ILIKE", "NOT LIKE"]),
        st.sampled_from(["a%", "%b", "_", "A%", "%"]),
    ),
    st.builds(lambda f: f"{f} NOT IN ('a', 'b')", TEXT_FIELD),
    st.builds(lambda f: f"{f} IS NULL", st.sampled_from(["params.p", "metrics.m"])),
)


def _fill(root: Path, runs: list[dict[str, object]]) -> SQLiteBackend:
    backend = SQLiteBackend(root / "tracking.sqlite")
    now = time.time()
    for i, run in enumerate(runs):
        rec = RunRecord(
            run_id=uuid.uuid4().hex,
            experiment="e",
            name=f"r{i}",
            status="RUNNING",
            start_time=now + i,
            params={} if run["p"] is None else {"p": run["p"]},
            tags={} if run["t"] is None else {"t": run["t"]},
        )
        backend.create_run(rec)
        if run["m"] is not None:
            backend.log_metrics(rec.run_id, [("m", run["m"], 0, now)])
        backend.finish(rec.run_id, "FINISHED", now + i + 1)
    return backend


def _python_matches(backend: SQLiteBackend, filter_: str) -> set[str]:
    test = compile_filter(parse_filter(filter_), get_value)
    return {r.run_id for r in backend.list_runs(["e"]) if test(r)}


OPS = ["=", "!=", "<", "<=", ">", ">="]
#: Every single comparison candidates() translates, over the values the runs can hold.
SINGLES = [
    *(f"{f} {o} {_quote(v)}" for f in ("params.p", "tags.t") for o in OPS for v in TEXTS),
    *(f"metrics.m {o} {_number(v)}" for o in OPS for v in NUMBERS),
    *(f"{f} IN ({_quote(v)}, 'b')" for f in ("params.p", "tags.t") for v in TEXTS),
]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs=st.lists(RUN, min_size=1, max_size=12))
def test_every_translated_comparison_keeps_exactly_the_python_matches(
    tmp_path_factory: object, runs: list[dict[str, object]]
) -> None:
    """For each comparison SQL translates (text by code point, NaN, ±inf, missing keys),
    the runs SQL keeps are exactly the runs the Python filter keeps."""
    root = tmp_path_factory.mktemp("ws")  # type: ignore[attr-defined]
    backend = _fill(root, runs)
    try:
        records = backend.list_runs(["e"])
        for filter_ in SINGLES:
            node = parse_filter(filter_)
            test = compile_filter(node, get_value)
            ids = backend.candidates(["e"], node)
            assert ids is not None, filter_
            assert set(ids) == {r.run_id for r in records if test(r)}, filter_
    finally:
        backend.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    runs=st.lists(RUN, min_size=1, max_size=12),
    exact=st.lists(EXACT, min_size=1, max_size=3),
    loose=st.lists(LOOSE, max_size=2),
)
def test_sql_narrowing_agrees_with_the_python_filter(
    tmp_path_factory: object, runs: list[dict[str, object]], exact: list[str], loose: list[str]
) -> None:
    """On random runs (NaN, ±inf, missing keys, text that sorts differently by case and
    code point) the runs SQL keeps for a filter of translated comparisons are exactly the
    runs the Python filter keeps; with untranslated ones added, SQL keeps a superset, and
    the search returns exactly the Python answer."""
    root = tmp_path_factory.mktemp("ws")  # type: ignore[attr-defined]
    backend = _fill(root, runs)
    try:
        only_exact = " and ".join(exact)
        ids = backend.candidates(["e"], parse_filter(only_exact))
        assert ids is not None
        assert set(ids) == _python_matches(backend, only_exact), only_exact

        mixed = " and ".join([*exact, *loose])
        ids = backend.candidates(["e"], parse_filter(mixed))
        assert ids is not None
        expected = _python_matches(backend, mixed)
        assert set(ids) >= expected, mixed
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                frame = Tracker(str(root), backend).search_runs("e", filter=mixed)
            except NotFoundError:  # no run matched and a key is in no run: a typo to report
                assert not expected, mixed
                return
        assert set(frame["run_id"]) == expected, mixed
    finally:
        backend.close()
