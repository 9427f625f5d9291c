"""The filter language: parsing, errors that point at the token, evaluation."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlopskit.errors import FilterSyntaxError
from mlopskit.tracking._model import RunRecord
from mlopskit.tracking._query import (
    MAX_DEPTH,
    And,
    Compare,
    Field,
    In,
    IsNull,
    Node,
    Not,
    Or,
    OrderKey,
    compile_filter,
    like_matcher,
    parse_filter,
    parse_order_by,
    render,
)
from mlopskit.tracking._search import get_value


class TestParse:
    def test_comparisons_and_precedence(self) -> None:
        """`and` binds tighter than `or`; keywords are case-insensitive."""
        node = parse_filter("metrics.acc > 0.9 AND params.lr < 0.1 or tags.team = 'x'")
        assert node == Or(
            (
                And(
                    (
                        Compare(Field("metrics", "acc"), ">", 0.9),
                        Compare(Field("params", "lr"), "<", 0.1),
                    )
                ),
                Compare(Field("tags", "team"), "=", "x"),
            )
        )

    def test_parentheses_not_in_like_and_null(self) -> None:
        """Parentheses, not, in, like and is null all parse."""
        node = parse_filter(
            "not (status in ('FAILED', 'KILLED') or params.opt like 'ad%') "
            "and tags.note is not null"
        )
        assert node == And(
            (
                Not(
                    Or(
                        (
                            In(Field("attributes", "status"), ("FAILED", "KILLED")),
                            Compare(Field("params", "opt"), "like", "ad%"),
                        )
                    )
                ),
                IsNull(Field("tags", "note"), negated=True),
            )
        )

    def test_quoted_and_dotted_names(self) -> None:
        """Backquoted names may hold spaces; bare names may hold dots and slashes."""
        assert parse_filter("metrics.`val loss` < 1") == Compare(
            Field("metrics", "val loss"), "<", 1
        )
        assert parse_filter("metrics.val.acc/top-1 >= 2e-1") == Compare(
            Field("metrics", "val.acc/top-1"), ">=", 0.2
        )

    def test_string_escapes(self) -> None:
        """A quote inside a string is escaped with a backslash."""
        assert parse_filter(r"tags.note = 'it\'s'") == Compare(Field("tags", "note"), "=", "it's")

    def test_a_number_beyond_float_range_round_trips(self) -> None:
        """A literal too large for a float means infinity and renders as one that parses back."""
        node = parse_filter("metrics.a < 1E310 or metrics.b > -1e400")
        assert node is not None
        assert parse_filter(render(node)) == node
        assert render(node) == "metrics.a < 1e999 or metrics.b > -1e999"

    def test_empty_filter_is_none(self) -> None:
        """An empty or blank filter matches everything (parses to None)."""
        assert parse_filter("   ") is None

    def test_order_by(self) -> None:
        """order_by entries take ASC/DESC."""
        assert parse_order_by(["metrics.acc DESC", "start_time"]) == [
            OrderKey(Field("metrics", "acc"), True),
            OrderKey(Field("attributes", "start_time"), False),
        ]


class TestErrors:
    @pytest.mark.parametrize(
        ("text", "position", "message"),
        [
            ("metrics.acc >> 0.9", 13, "expected a value"),
            ("metrics.acc > 0.9 and", 21, "expected a field"),
            ("metrics.acc > 'high'", 14, "is a number"),
            ("params.lr < 0.1 params.x = 1", 16, "expected 'and', 'or'"),
            ("bogus.x = 1", 0, "unknown field"),
            ("(metrics.a > 1", 14, "expected ')'"),
            ("metrics.a ~ 1", 10, "unexpected character"),
            ("status = 3", 9, "is a string"),
            ("params.a in (1, 2", 17, "expected ',' or ')'"),
        ],
    )
    def test_error_points_at_the_token(self, text: str, position: int, message: str) -> None:
        """A syntax error names the problem and the position of the offending token."""
        with pytest.raises(FilterSyntaxError, match=re.escape(message)) as info:
            parse_filter(text)
        assert info.value.position == position  # type: ignore[attr-defined]
        caret_line = str(info.value).splitlines()[-1]
        assert caret_line.index("^") - 4 == position

    def test_error_is_a_value_error(self) -> None:
        """FilterSyntaxError is an InvalidInputError and a ValueError."""
        with pytest.raises(ValueError):
            parse_filter("metrics.")


def _record(**kw: Any) -> RunRecord:
    base: dict[str, Any] = {
        "run_id": "r",
        "experiment": "e",
        "name": "n",
        "status": "FINISHED",
        "start_time": 0.0,
    }
    return RunRecord(**{**base, **kw})


class TestEvaluate:
    def test_missing_values_never_match_a_comparison(self) -> None:
        """A comparison with a missing value, and its !=, are false; `not` negates."""
        rec = _record(metrics={"a": 1.0})
        for text, expected in [
            ("metrics.b > 0", False),
            ("metrics.b != 0", False),
            ("not metrics.b > 0", True),
            ("metrics.b is null", True),
            ("metrics.a is null", False),
        ]:
            assert compile_filter(parse_filter(text), get_value)(rec) is expected, text

    def test_params_compare_as_numbers_when_they_parse(self) -> None:
        """A param compared with a number is compared numerically; text never matches."""
        test = compile_filter(parse_filter("params.lr < 0.1"), get_value)
        assert test(_record(params={"lr": "0.01"}))
        assert not test(_record(params={"lr": "1e-1"}))
        assert not test(_record(params={"lr": "adam"}))

    def test_like_and_ilike(self) -> None:
        """like is case-sensitive with % and _; ilike is not."""
        rec = _record(tags={"t": "Model_A1"})
        assert compile_filter(parse_filter("tags.t like 'Model%'"), get_value)(rec)
        assert not compile_filter(parse_filter("tags.t like 'model%'"), get_value)(rec)
        assert compile_filter(parse_filter("tags.t ilike 'model_a_'"), get_value)(rec)
        assert compile_filter(parse_filter("tags.t not like 'x%'"), get_value)(rec)


# -- properties -------------------------------------------------------------------------

NAMES = st.sampled_from(["a", "b", "val.acc", "val loss", "and", "x-1"])
NUMBERS = st.one_of(
    st.integers(-5, 5), st.floats(-5, 5, allow_nan=False, allow_infinity=False, width=32)
)
STRINGS = st.sampled_from(["x", "y", "it's", "a%", "", "1.5"])
OPS = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])


@st.composite
def leaves(draw: st.DrawFn) -> Node:
    kind = draw(st.sampled_from(["metrics", "params", "tags"]))
    field = Field(kind, draw(NAMES))
    shape = draw(st.sampled_from(["cmp", "in", "null", "like"]))
    if shape == "null":
        return IsNull(field, draw(st.booleans()))
    if kind == "metrics" or (kind == "params" and draw(st.booleans())):
        values: st.SearchStrategy[Any] = NUMBERS
    else:
        values = STRINGS
    if shape == "in":
        return In(field, tuple(draw(st.lists(values, min_size=1, max_size=3))), draw(st.booleans()))
    if shape == "like" and kind != "metrics":
        op = draw(st.sampled_from(["like", "ilike", "not like"]))
        return Compare(field, op, draw(STRINGS))
    return Compare(field, draw(OPS), draw(values))


def _combine(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    def flat(cls: type[And] | type[Or], items: list[Node]) -> Node:
        out: list[Node] = []
        for item in items:
            out.extend(item.items if isinstance(item, cls) else (item,))
        return cls(tuple(out))

    return st.one_of(
        st.builds(Not, children),
        st.lists(children, min_size=2, max_size=3).map(lambda xs: flat(And, xs)),
        st.lists(children, min_size=2, max_size=3).map(lambda xs: flat(Or, xs)),
    )


FILTERS = st.recursive(leaves(), _combine, max_leaves=6)

VALUES = {
    "metrics": st.one_of(st.none(), NUMBERS.map(float)),
    "params": st.one_of(st.none(), STRINGS, NUMBERS.map(str)),
    "tags": st.one_of(st.none(), STRINGS),
}


@st.composite
def records(draw: st.DrawFn) -> list[RunRecord]:
    out = []
    for i in range(draw(st.integers(1, 8))):
        data: dict[str, dict[str, Any]] = {"metrics": {}, "params": {}, "tags": {}}
        for kind, values in VALUES.items():
            for name in ["a", "b", "val.acc", "val loss", "and", "x-1"]:
                value = draw(values)
                if value is not None:
                    data[kind][name] = value
        out.append(_record(run_id=f"r{i}", **data))
    return out


def _pandas_mask(node: Node, frame: pd.DataFrame) -> pd.Series:
    """An independent evaluation of ``node`` with pandas column operations."""
    if isinstance(node, (And, Or)):
        masks = [_pandas_mask(i, frame) for i in node.items]
        out = masks[0]
        for m in masks[1:]:
            out = (out & m) if isinstance(node, And) else (out | m)
        return out
    if isinstance(node, Not):
        return ~_pandas_mask(node.item, frame)
    col = frame.get(node.field.key, pd.Series([None] * len(frame), index=frame.index, dtype=object))
    if isinstance(node, IsNull):
        return col.notna() if node.negated else col.isna()
    if isinstance(node, In):
        mask = pd.Series(False, index=frame.index)
        for v in node.values:
            mask |= _pandas_mask(Compare(node.field, "=", v), frame)
        return col.notna() & (~mask if node.negated else mask)
    value = node.value
    if node.op in ("like", "ilike", "not like"):
        pattern = (
            "^"
            + "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in str(value))
            + "$"
        )
        hit = col.astype("string").str.match(pattern, case=node.op != "ilike").fillna(False)
        hit = hit.astype(bool)
        return col.notna() & (~hit if node.op == "not like" else hit)
    if isinstance(value, str):
        is_text = col.map(lambda v: isinstance(v, str))
        text = col.where(is_text, None)
        ops = {"=": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
        result = getattr(text.astype("string"), ops[node.op])(value).fillna(False).astype(bool)
        return is_text & result
    nums = pd.to_numeric(col, errors="coerce").astype("float64")
    ops = {"=": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
    return nums.notna() & getattr(nums, ops[node.op])(float(value))


class TestProperties:
    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(FILTERS)
    def test_render_then_parse_round_trips(self, node: Node) -> None:
        """Rendering a filter and parsing the text gives back the same tree."""
        text = render(node)
        assert parse_filter(text) == node
        assert render(parse_filter(text)) == text  # type: ignore[arg-type]

    @settings(
        max_examples=120,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(FILTERS, records())
    def test_evaluation_agrees_with_pandas(self, node: Node, rows: list[RunRecord]) -> None:
        """The filter keeps exactly the runs a pandas evaluation of the predicate keeps."""
        test = compile_filter(parse_filter(render(node)), get_value)
        ours = [r.run_id for r in rows if test(r)]
        frame = pd.DataFrame(
            [
                {
                    "run_id": r.run_id,
                    **{f"metrics.{k}": v for k, v in r.metrics.items()},
                    **{f"params.{k}": v for k, v in r.params.items()},
                    **{f"tags.{k}": v for k, v in r.tags.items()},
                }
                for r in rows
            ],
            dtype=object,
        )
        theirs = frame.loc[_pandas_mask(node, frame).to_numpy(dtype=bool), "run_id"].tolist()
        assert ours == theirs


class TestHostileFilters:
    @pytest.mark.parametrize(
        "text",
        [
            "(" * 5000 + "metrics.a > 1" + ")" * 5000,
            "not " * 5000 + "metrics.a > 1",
            "(not " * 3000 + "metrics.a > 1" + ")" * 3000,
        ],
        ids=["parens", "nots", "both"],
    )
    def test_deep_nesting_is_a_syntax_error_not_a_recursion_error(self, text: str) -> None:
        """Thousands of nested '(' or 'not' raise FilterSyntaxError naming the depth limit."""
        with pytest.raises(FilterSyntaxError, match=f"more than {MAX_DEPTH} deep"):
            parse_filter(text)

    def test_nesting_up_to_the_limit_parses_and_evaluates(self) -> None:
        """Nesting within the limit still works, and evaluates as written."""
        node = parse_filter("not " * (MAX_DEPTH - 1) + "metrics.a > 1")
        test = compile_filter(node, get_value)
        row = RunRecord(run_id="r", experiment="e", name="n", status="FINISHED", start_time=0.0)
        row.metrics["a"] = 2.0
        assert test(row) is ((MAX_DEPTH - 1) % 2 == 0)

    def test_many_percent_signs_do_not_backtrack(self) -> None:
        """A pattern with many '%' against a long near-miss value answers (no exponential blowup)."""
        test = like_matcher("%a" * 40 + "%b")
        assert test("a" * 5000) is False
        assert test("a" * 5000 + "b") is True

    @given(
        pattern=st.text(alphabet="ab%_", max_size=8),
        value=st.text(alphabet="abAB", max_size=10),
        ignore_case=st.booleans(),
    )
    @settings(max_examples=400, deadline=None)
    def test_like_agrees_with_a_regex_reference(
        self, pattern: str, value: str, ignore_case: bool
    ) -> None:
        """like/ilike answer exactly what the regular-expression translation answers."""
        reference = "".join(
            ".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern
        )
        flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
        expected = re.fullmatch(reference, value, flags) is not None
        assert like_matcher(pattern, ignore_case=ignore_case)(value) is expected


class TestMlflowForms:
    """The spellings MLflow's search accepts read as the same fields here."""

    @pytest.mark.parametrize(
        ("mlflow", "ours"),
        [
            ("attributes.run_name = 'a'", "name = 'a'"),
            ("attributes.run_name != 'a'", "name != 'a'"),
            ("attributes.run_name LIKE 'a%'", "name like 'a%'"),
            ("attributes.run_name ILIKE 'A%'", "name ilike 'A%'"),
            ("attributes.`Run name` = 'a'", "name = 'a'"),
            ("run_name = 'a'", "name = 'a'"),
            ("attributes.user_id = 'ann'", "user = 'ann'"),
            ("user_id = 'ann'", "user = 'ann'"),
            ("attributes.created > 5", "start_time > 5"),
            ("attributes.start_time > 5", "start_time > 5"),
            ("created > 5", "start_time > 5"),
            ("run.status = 'FAILED'", "status = 'FAILED'"),
            ("attribute.status = 'FAILED'", "status = 'FAILED'"),
            ("parameters.lr = '0.1'", "params.lr = '0.1'"),
            ("parameter.lr = '0.1'", "params.lr = '0.1'"),
            ("param.lr = '0.1'", "params.lr = '0.1'"),
            ("metric.acc > 0.5", "metrics.acc > 0.5"),
            ("tag.team = 'x'", "tags.team = 'x'"),
            ("tags.mlflow.runName = 'a'", "name = 'a'"),
            ("tags.`mlflow.runName` LIKE 'a%'", "name like 'a%'"),
            ("tags.mlflow.user = 'ann'", "user = 'ann'"),
            ("tags.mlflow.parentRunId IS NULL", "parent_id IS NULL"),
        ],
    )
    def test_mlflow_spelling_parses_as_ours(self, mlflow: str, ours: str) -> None:
        """An MLflow filter copied as written selects what the mlopskit spelling selects."""
        assert parse_filter(mlflow) == parse_filter(ours)

    def test_mlflow_spellings_in_order_by(self) -> None:
        """order_by takes MLflow's spellings too."""
        assert parse_order_by(["attributes.created DESC", "metric.acc"]) == [
            OrderKey(Field("attributes", "start_time"), descending=True),
            OrderKey(Field("metrics", "acc")),
        ]

    def test_unknown_attribute_still_names_the_known_ones(self) -> None:
        """An attribute neither we nor MLflow define is a syntax error listing the names."""
        with pytest.raises(FilterSyntaxError, match=r"unknown attribute 'colour'.*'run_id'"):
            parse_filter("attributes.colour = 'red'")

    def test_misspelt_attribute_or_field_suggests_the_closest(self) -> None:
        """A typo in an attribute or a field prefix says 'did you mean'."""
        with pytest.raises(FilterSyntaxError, match="unknown attribute 'stauts'; did you mean"):
            parse_filter("attributes.stauts = 'FAILED'")
        with pytest.raises(FilterSyntaxError, match="did you mean 'status'"):
            parse_filter("stauts = 'FAILED'")
        with pytest.raises(FilterSyntaxError, match="did you mean 'metrics'"):
            parse_filter("metircs.acc > 1")

    def test_aliases_filter_runs(self, workspace: str) -> None:
        """search_runs with MLflow's spellings returns the runs MLflow would."""
        import mlopskit as mk

        with mk.start_run(experiment="forms", name="alpha", params={"lr": 0.1}):
            mk.log_metric("acc", 0.9)
        with mk.start_run(experiment="forms", name="beta", params={"lr": 0.2}):
            mk.log_metric("acc", 0.5)
        found = mk.search_runs(
            experiment="forms",
            filter="attributes.run_name LIKE 'al%' and parameters.lr = '0.1' and metric.acc > 0",
        )
        assert found["name"].tolist() == ["alpha"]
        found = mk.search_runs(experiment="forms", filter="attributes.created > 0")
        assert sorted(found["name"]) == ["alpha", "beta"]
        found = mk.search_runs(experiment="forms", filter="tags.mlflow.runName = 'beta'")
        assert found["name"].tolist() == ["beta"]


_SPELLINGS = {
    "params": ["params", "param", "parameter", "parameters", "PARAMS"],
    "metrics": ["metrics", "metric"],
    "tags": ["tags", "tag"],
}
_ATTR_SPELLINGS = {
    "name": [
        "name",
        "run_name",
        "attributes.run_name",
        "attr.name",
        "run.run_name",
        "tags.mlflow.runName",
    ],
    "user": ["user", "user_id", "attributes.user_id", "attribute.user"],
    "start_time": ["start_time", "created", "attributes.created", "run.start_time"],
    "status": ["status", "run.status", "attributes.status"],
}


@st.composite
def mlflow_leaves(draw: st.DrawFn) -> Node:
    if draw(st.booleans()):
        return draw(leaves())
    name = draw(st.sampled_from(sorted(_ATTR_SPELLINGS)))
    field = Field("attributes", name)
    if name == "start_time":
        return Compare(field, draw(OPS), draw(NUMBERS))
    shape = draw(st.sampled_from(["cmp", "like", "in"]))
    if shape == "in":
        return In(field, tuple(draw(st.lists(STRINGS, min_size=1, max_size=2))))
    if shape == "like":
        return Compare(field, draw(st.sampled_from(["like", "ilike"])), draw(STRINGS))
    return Compare(field, draw(st.sampled_from(["=", "!="])), draw(STRINGS))


def _spell(node: Node, draw: st.DrawFn) -> str:
    """``render(node)`` with every field written in a randomly drawn accepted spelling."""
    if isinstance(node, (Compare, In, IsNull)):
        field = node.field
        canonical = render(IsNull(field)).rsplit(" is null", 1)[0]
        if field.kind == "attributes":
            spelled = draw(st.sampled_from(_ATTR_SPELLINGS[field.name]))
        else:
            spelled = draw(st.sampled_from(_SPELLINGS[field.kind])) + canonical[len(field.kind) :]
        return spelled + render(node)[len(canonical) :]
    if isinstance(node, Not):
        simple = isinstance(node.item, (Compare, In, IsNull, Not))
        inner = _spell(node.item, draw)
        return f"not {inner}" if simple else f"not ({inner})"
    if isinstance(node, And):
        return " and ".join(
            f"({_spell(i, draw)})" if isinstance(i, Or) else _spell(i, draw) for i in node.items
        )
    return " or ".join(_spell(i, draw) for i in node.items)


class TestMlflowFormProperties:
    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.recursive(mlflow_leaves(), _combine, max_leaves=6), st.data())
    def test_any_spelling_parses_to_the_rendered_tree(
        self, node: Node, data: st.DataObject
    ) -> None:
        """A filter written with any mix of MLflow's and our spellings parses to the same tree,
        and that tree renders to text that parses back to it."""
        text = _spell(node, data.draw)
        assert parse_filter(text) == node
        assert parse_filter(render(node)) == node
