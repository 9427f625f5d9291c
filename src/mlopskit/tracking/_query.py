"""The search filter language: a small recursive-descent parser and an evaluator.

Grammar (keywords are case-insensitive)::

    filter     := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | "(" or ")" | predicate
    predicate  := field op value
                | field ["not"] ("like" | "ilike") string
                | field ["not"] "in" "(" value ("," value)* ")"
                | field "is" ["not"] "null"
    field      := prefix "." name | attribute
    prefix     := "params" | "metrics" | "tags" | "attributes"
                | MLflow's: "param" | "parameter" | "parameters" | "metric" | "tag"
                | "attribute" | "attr" | "attrs" | "run"
    name       := [A-Za-z0-9_.:/-]+ | `backquoted` | "double quoted"
    op         := "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">="
    value      := number | 'single quoted string'   (backslash escapes \\' and \\\\)

``attribute`` is one of ``run_id``, ``name``, ``experiment``, ``status``,
``start_time``, ``end_time``, ``duration``, ``parent_id``, ``user``, ``host``, or one
of MLflow's names for them (:data:`ATTRIBUTE_ALIASES`: ``run_name``, ``user_id``,
``created``); times are seconds since the epoch under any name.
A comparison with a missing value is false, and so is its ``!=``; ``not`` negates.
Params and tags are strings: compared with a number, a value that parses as a
number is compared numerically, one that does not never matches.

Parentheses and ``not`` nest at most :data:`MAX_DEPTH` deep (FilterSyntaxError beyond,
never a RecursionError), and ``like`` runs in time linear in the value for a given
pattern (no backtracking on many ``%``).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlopskit._suggest import did_you_mean
from mlopskit.errors import FilterSyntaxError

__all__ = [
    "ATTRIBUTES",
    "ATTRIBUTE_ALIASES",
    "MAX_DEPTH",
    "And",
    "Compare",
    "Field",
    "In",
    "IsNull",
    "Node",
    "Not",
    "Or",
    "OrderKey",
    "compile_filter",
    "like_matcher",
    "parse_filter",
    "parse_order_by",
    "render",
]

#: A run's attributes, in the order a run's summary shows them (``RUN_INFO_COLUMNS``
#: is this tuple): the one list of names a filter, ``order_by`` and ``runs show`` use.
ATTRIBUTES = (
    "run_id",
    "experiment",
    "name",
    "status",
    "start_time",
    "end_time",
    "duration",
    "parent_id",
    "user",
    "host",
)
NUMERIC_ATTRIBUTES = frozenset({"start_time", "end_time", "duration"})
KINDS = ("params", "metrics", "tags", "attributes")
#: MLflow's spellings of an attribute, read as ours (MLflow's times are milliseconds;
#: ours are seconds since the epoch, whichever name is used).
ATTRIBUTE_ALIASES = {
    "run_name": "name",
    "run name": "name",
    "user_id": "user",
    "created": "start_time",
}
#: The tags MLflow keeps its attributes in (``tags.mlflow.runName = 'x'``), read as
#: those attributes.
MLFLOW_ATTRIBUTE_TAGS = {
    "mlflow.runName": "name",
    "mlflow.user": "user",
    "mlflow.parentRunId": "parent_id",
}
#: Every prefix of a field, MLflow's included, and the kind it names.
PREFIXES = {
    "params": "params",
    "param": "params",
    "parameter": "params",
    "parameters": "params",
    "metrics": "metrics",
    "metric": "metrics",
    "tags": "tags",
    "tag": "tags",
    "attributes": "attributes",
    "attribute": "attributes",
    "attr": "attributes",
    "attrs": "attributes",
    "run": "attributes",
}
#: How deep parentheses and ``not`` may nest in a filter.
MAX_DEPTH = 64
OPS = ("=", "!=", "<", "<=", ">", ">=", "like", "ilike", "not like", "not ilike")

Value = int | float | str


@dataclass(frozen=True)
class Field:
    """A value of a run: ``kind`` is params, metrics, tags or attributes."""

    kind: str
    name: str

    @property
    def key(self) -> str:
        """``kind.name``, the column name in ``search_runs``' frame."""
        return self.name if self.kind == "attributes" else f"{self.kind}.{self.name}"


@dataclass(frozen=True)
class Compare:
    """``field op value``."""

    field: Field
    op: str
    value: Value


@dataclass(frozen=True)
class In:
    """``field [not] in (values)``."""

    field: Field
    values: tuple[Value, ...]
    negated: bool = False


@dataclass(frozen=True)
class IsNull:
    """``field is [not] null``."""

    field: Field
    negated: bool = False


@dataclass(frozen=True)
class Not:
    """``not item``."""

    item: Node


@dataclass(frozen=True)
class And:
    """Every item holds (two or more items, none an ``And``)."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """Some item holds (two or more items, none an ``Or``)."""

    items: tuple[Node, ...]


Node = Compare | In | IsNull | Not | And | Or


@dataclass(frozen=True)
class OrderKey:
    """One ``order_by`` entry."""

    field: Field
    descending: bool = False


# -- lexer -------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)(?![A-Za-z_]))
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<quoted>`[^`]*`|"(?:[^"\\]|\\.)*")
  | (?P<op><=|>=|!=|<>|==|=|<|>)
  | (?P<punct>[(),.])
  | (?P<word>[A-Za-z0-9_:/\-]+)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int
    value: Any = None


def _lex(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise _error(text, pos, f"unexpected character {text[pos]!r}")
        kind = m.lastgroup or ""
        raw = m.group()
        if kind == "number":
            value: Any = float(raw) if any(c in raw for c in ".eE") else int(raw)
            out.append(_Tok("number", raw, pos, value))
        elif kind == "string":
            out.append(_Tok("string", raw, pos, _unescape(raw[1:-1])))
        elif kind == "quoted":
            body = raw[1:-1]
            out.append(_Tok("name", raw, pos, _unescape(body) if raw[0] == '"' else body))
        elif kind in ("op", "punct"):
            out.append(_Tok(raw, raw, pos))
        elif kind == "word":
            out.append(_Tok("word", raw, pos, raw))
        pos = m.end()
    out.append(_Tok("end", "", len(text)))
    return out


def _unescape(body: str) -> str:
    return re.sub(r"\\(.)", r"\1", body)


def _error(text: str, pos: int, what: str) -> FilterSyntaxError:
    caret = " " * pos + "^"
    return FilterSyntaxError(
        f"{what} at position {pos} in filter:\n    {text}\n    {caret}",
        position=pos,
        filter=text,
    )


# -- parser ------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _lex(text)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def fail(self, what: str, tok: _Tok | None = None) -> FilterSyntaxError:
        tok = tok or self.tok
        found = "the end of the filter" if tok.kind == "end" else repr(tok.text)
        return _error(self.text, tok.pos, f"{what}, found {found}")

    def keyword(self, *words: str) -> bool:
        tok = self.tok
        return bool(tok.kind == "word" and tok.text.lower() in words)

    def take(self, kind: str) -> _Tok:
        tok = self.tok
        if tok.kind != kind:
            raise self.fail(f"expected {kind!r}")
        self.i += 1
        return tok

    def parse(self) -> Node:
        node = self.or_()
        if self.tok.kind != "end":
            raise self.fail("expected 'and', 'or' or the end of the filter")
        return node

    def or_(self) -> Node:
        items = [self.and_()]
        while self.keyword("or"):
            self.i += 1
            items.append(self.and_())
        return items[0] if len(items) == 1 else Or(_flatten(items, Or))

    def and_(self) -> Node:
        items = [self.not_()]
        while self.keyword("and"):
            self.i += 1
            items.append(self.not_())
        return items[0] if len(items) == 1 else And(_flatten(items, And))

    def not_(self) -> Node:
        if self.keyword("not") or self.tok.kind == "(":
            if self.depth >= MAX_DEPTH:
                raise _error(
                    self.text,
                    self.tok.pos,
                    f"the filter nests parentheses and 'not' more than {MAX_DEPTH} deep; "
                    "simplify it",
                )
            self.depth += 1
            try:
                if self.keyword("not"):
                    self.i += 1
                    return Not(self.not_())
                self.i += 1
                node = self.or_()
                if self.tok.kind != ")":
                    raise self.fail("expected ')'")
                self.i += 1
                return node
            finally:
                self.depth -= 1
        return self.predicate()

    def field(self) -> Field:
        tok = self.tok
        if tok.kind != "word":
            raise self.fail("expected a field such as metrics.acc, params.lr or status")
        self.i += 1
        head = tok.text.lower()
        if head in PREFIXES and self.tok.kind == ".":
            self.i += 1
            name_tok = self.tok
            if name_tok.kind not in ("word", "name", "number"):
                raise self.fail(f"expected a name after '{tok.text}.'")
            self.i += 1
            name = name_tok.value if name_tok.kind == "name" else name_tok.text
            # bare names may contain dots: metrics.val.acc
            while (
                name_tok.kind != "name"
                and self.tok.kind == "."
                and self.toks[self.i + 1].kind in ("word", "number")
                and self.toks[self.i + 1].pos == self.tok.pos + 1
            ):
                name += "." + self.toks[self.i + 1].text
                self.i += 2
            kind = PREFIXES[head]
            if kind == "attributes":
                name = name.lower()
                name = ATTRIBUTE_ALIASES.get(name, name)
                if name not in ATTRIBUTES:
                    hint = did_you_mean(name, [*ATTRIBUTES, *ATTRIBUTE_ALIASES], noun="attributes")
                    raise _error(self.text, name_tok.pos, f"unknown attribute {name!r}{hint}")
            if not name:
                raise _error(self.text, name_tok.pos, "empty field name")
            if kind == "tags" and name in MLFLOW_ATTRIBUTE_TAGS:
                return Field("attributes", MLFLOW_ATTRIBUTE_TAGS[name])
            return Field(kind, name)
        if head in ATTRIBUTES or head in ATTRIBUTE_ALIASES:
            return Field("attributes", ATTRIBUTE_ALIASES.get(head, head))
        close = did_you_mean(head, [*ATTRIBUTES, *ATTRIBUTE_ALIASES, *PREFIXES])
        raise _error(
            self.text,
            tok.pos,
            f"unknown field {tok.text!r}; expected params.<name>, metrics.<name>, "
            f"tags.<name> or one of {', '.join(ATTRIBUTES)}"
            + (close if close.startswith("; did you mean") else ""),
        )

    def value(self, field: Field) -> Value:
        tok = self.tok
        if tok.kind == "number":
            self.i += 1
            if field.kind == "attributes" and field.name not in NUMERIC_ATTRIBUTES:
                raise _error(
                    self.text, tok.pos, f"attribute {field.name!r} is a string; quote the value"
                )
            value: Value = tok.value
            return value
        if tok.kind == "string":
            self.i += 1
            if field.kind == "metrics":
                raise _error(
                    self.text,
                    tok.pos,
                    f"metric {field.name!r} is a number; compare it with a number",
                )
            if field.kind == "attributes" and field.name in NUMERIC_ATTRIBUTES:
                raise _error(
                    self.text,
                    tok.pos,
                    f"attribute {field.name!r} is a number of seconds; compare it with a number",
                )
            string: str = tok.value
            return string
        raise self.fail("expected a value: a number or a 'quoted string'")

    def predicate(self) -> Node:
        field = self.field()
        tok = self.tok
        if tok.kind in ("=", "==", "!=", "<>", "<", "<=", ">", ">="):
            self.i += 1
            op = {"==": "=", "<>": "!="}.get(tok.kind, tok.kind)
            return Compare(field, op, self.value(field))
        negated = False
        if self.keyword("is"):
            self.i += 1
            if self.keyword("not"):
                self.i += 1
                negated = True
            if not self.keyword("null"):
                raise self.fail("expected 'null' after 'is'")
            self.i += 1
            return IsNull(field, negated)
        if self.keyword("not"):
            self.i += 1
            negated = True
            if not self.keyword("like", "ilike", "in"):
                raise self.fail("expected 'like', 'ilike' or 'in' after 'not'")
        if self.keyword("like", "ilike"):
            word = self.tok
            self.i += 1
            if field.kind == "metrics" or field.name in NUMERIC_ATTRIBUTES:
                raise _error(self.text, word.pos, f"'{word.text}' needs a string field")
            pattern = self.tok
            if pattern.kind != "string":
                raise self.fail("expected a 'quoted pattern' after like")
            self.i += 1
            op = word.text.lower()
            return Compare(field, f"not {op}" if negated else op, pattern.value)
        if self.keyword("in"):
            self.i += 1
            if self.tok.kind != "(":
                raise self.fail("expected '(' after in")
            self.i += 1
            values = [self.value(field)]
            while self.tok.kind == ",":
                self.i += 1
                values.append(self.value(field))
            if self.tok.kind != ")":
                raise self.fail("expected ',' or ')' in the list of values")
            self.i += 1
            return In(field, tuple(values), negated)
        raise self.fail(
            f"expected a comparison (=, !=, <, <=, >, >=, like, in, is) after '{field.key}'"
        )


def _flatten(items: list[Node], cls: type[And] | type[Or]) -> tuple[Node, ...]:
    out: list[Node] = []
    for item in items:
        out.extend(item.items if isinstance(item, cls) else (item,))
    return tuple(out)


def parse_filter(text: str) -> Node | None:
    """Parse a filter; None for an empty one. FilterSyntaxError points at the bad token.

    The trees are immutable, so the last few hundred filters parsed are kept by their
    text (a search repeated with one filter parses it once).
    """
    if text is None or not text.strip():
        return None
    if type(text) is str:
        return _parse_text(text)
    return _Parser(text).parse()


@functools.lru_cache(maxsize=256)
def _parse_text(text: str) -> Node:
    return _Parser(text).parse()


def parse_order_by(entries: list[str] | tuple[str, ...] | str | None) -> list[OrderKey]:
    """``["metrics.acc DESC", "start_time"]`` → order keys."""
    if entries is None:
        return []
    if isinstance(entries, str):
        entries = [entries]
    keys = []
    for entry in entries:
        p = _Parser(entry)
        field = p.field()
        descending = False
        if p.keyword("desc", "asc"):
            descending = p.tok.text.lower() == "desc"
            p.i += 1
        if p.tok.kind != "end":
            raise p.fail("expected ASC, DESC or the end of the order_by entry")
        keys.append(OrderKey(field, descending))
    return keys


# -- rendering -------------------------------------------------------------------------

_BARE = re.compile(r"^[A-Za-z_][A-Za-z0-9_:/\-]*(?:\.[A-Za-z_][A-Za-z0-9_:/\-]*)*$")
_KEYWORDS = {"and", "or", "not", "in", "like", "ilike", "is", "null", "asc", "desc"}


def _render_field(field: Field) -> str:
    if field.kind == "attributes":
        return field.name
    name = field.name
    if "`" in name:  # a backquoted name cannot hold a backquote: double-quote it
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    elif not _BARE.match(name) or name.lower() in _KEYWORDS or name[0].isdigit():
        name = "`" + name + "`"
    return f"{field.kind}.{name}"


def _render_value(value: Value) -> str:
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, float) and math.isinf(value):
        # a literal beyond float range parses as infinity; write it as one that does
        return "1e999" if value > 0 else "-1e999"
    return repr(value)


def render(node: Node) -> str:
    """The canonical text of a filter: ``parse_filter(render(n)) == n``."""
    if isinstance(node, Compare):
        return f"{_render_field(node.field)} {node.op} {_render_value(node.value)}"
    if isinstance(node, In):
        values = ", ".join(_render_value(v) for v in node.values)
        return f"{_render_field(node.field)} {'not in' if node.negated else 'in'} ({values})"
    if isinstance(node, IsNull):
        return f"{_render_field(node.field)} is {'not null' if node.negated else 'null'}"
    if isinstance(node, Not):
        inner = render(node.item)
        simple = isinstance(node.item, (Compare, In, IsNull, Not))
        return f"not {inner}" if simple else f"not ({inner})"
    if isinstance(node, And):
        return " and ".join(
            f"({render(i)})" if isinstance(i, Or) else render(i) for i in node.items
        )
    return " or ".join(render(i) for i in node.items)


# -- evaluation ------------------------------------------------------------------------

Getter = Callable[[Field, Any], Any]
Predicate = Callable[[Any], bool]


def _as_number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            out = float(value)
        except ValueError:
            return None
        return out if math.isfinite(out) else None
    return None


def like_matcher(pattern: str, *, ignore_case: bool = False) -> Callable[[str], bool]:
    """A test of SQL ``LIKE``: ``%`` any run of characters, ``_`` exactly one.

    The pattern is split at ``%`` into fixed-length pieces found left to right, each at
    its leftmost place (which is enough: a piece found later could only leave less room
    for the rest), so a value of length n costs O(n x pattern length), never the
    exponential backtracking of a regular expression with many ``.*``.
    """
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    pieces = [
        (re.compile("".join("." if c == "_" else re.escape(c) for c in part), flags), len(part))
        for part in pattern.split("%")
    ]
    if len(pieces) == 1:
        whole, _ = pieces[0]
        return lambda value: whole.fullmatch(value) is not None
    (first, n_first), *middle, (last, n_last) = pieces
    least = sum(n for _, n in pieces)

    def match(value: str) -> bool:
        if len(value) < least or first.match(value) is None:
            return False
        pos = n_first
        for piece, n in middle:
            if n:
                found = piece.search(value, pos)
                if found is None:
                    return False
                pos = found.end()
        start = len(value) - n_last
        return start >= pos and last.fullmatch(value, start) is not None

    return match


_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _compare(op: str, value: Value) -> Callable[[Any], bool]:
    if op in ("like", "ilike", "not like", "not ilike"):
        test = like_matcher(str(value), ignore_case="ilike" in op)
        neg = op.startswith("not")
        return lambda v: isinstance(v, str) and test(v) != neg
    fn = _CMP[op]
    if isinstance(value, str):
        return lambda v: isinstance(v, str) and fn(v, value)
    target = float(value)

    def numeric(v: Any) -> bool:
        n = _as_number(v)
        return n is not None and fn(n, target)

    return numeric


def compile_filter(node: Node | None, get: Getter) -> Predicate:
    """A predicate over rows; ``get(field, row)`` returns the value or None if missing."""
    if node is None:
        return lambda row: True
    if isinstance(node, Compare):
        test = _compare(node.op, node.value)
        f = node.field
        return lambda row: (v := get(f, row)) is not None and test(v)
    if isinstance(node, In):
        tests = [_compare("=", v) for v in node.values]
        f, neg = node.field, node.negated
        return lambda row: (v := get(f, row)) is not None and any(t(v) for t in tests) != neg
    if isinstance(node, IsNull):
        f, neg = node.field, node.negated
        return lambda row: (get(f, row) is None) != neg
    if isinstance(node, Not):
        inner = compile_filter(node.item, get)
        return lambda row: not inner(row)
    parts = [compile_filter(i, get) for i in node.items]
    if isinstance(node, And):
        return lambda row: all(p(row) for p in parts)
    return lambda row: any(p(row) for p in parts)


def fields_of(node: Node | None) -> set[Field]:
    """Every field a filter reads."""
    if node is None:
        return set()
    if isinstance(node, (Compare, In, IsNull)):
        return {node.field}
    if isinstance(node, Not):
        return fields_of(node.item)
    out: set[Field] = set()
    for item in node.items:
        out |= fields_of(item)
    return out
