"""Code hashing for ``@versioned``: what a function's result depends on in code.

The code hash of a function covers:

- its own source, parsed and dumped as an AST: comments, blank lines, formatting and
  docstrings do not count, and neither does the ``@versioned(...)`` decorator line;
- every function and class **of the same project** it refers to by a global name, a
  closure variable, or an attribute of a same-project module (``helpers.clean``),
  recursively (a helper's helpers count too), including code inside comprehensions
  and nested functions;
- the values of the globals and closure variables it reads, when they can be hashed
  by content (numbers, strings, containers, arrays, frames, …); other values count by
  their type only;
- functions and classes of other projects (third-party packages, the standard
  library) by qualified name only: upgrading a package does not change the hash.

"Same project" is the directory tree of the decorated function's top-level package
(or of its file, for a script or a top-level module), minus anything installed under
``site-packages`` / ``dist-packages``, and minus mlopskit itself. Code defined in
``__main__``, a REPL, a notebook or an ``exec`` namespace always counts.

Not covered: methods reached through an instance (``obj.method()`` when ``obj`` is an
argument: its type is not known statically), code run through ``getattr``/``eval``,
in-place mutation of a global object (a ``dict`` edited after the first call), and
source edited on disk but not re-imported. Functions without source (defined in a
REPL or with ``exec``) are hashed by their bytecode, which is specific to the Python
version. A global rebound in the running process (a redefined helper in a notebook)
is noticed at the next call.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import os
import sys
import textwrap
import types
from dataclasses import dataclass, field
from typing import Any

from mlopskit.errors import UnhashableArgumentError
from mlopskit.serialize import canonical_json

__all__ = ["Fingerprint", "fingerprint", "project_root"]

_MISSING = object()


@dataclass
class Fingerprint:
    """A function's code hash and the globals it was computed from.

    Attributes:
        digest: ``sha256:<hex>`` of the normalised code of the function and its
            same-project dependencies.
        covered: qualified names of the same-project functions and classes included.
        deps: ``(namespace, name, object)`` for every global read; :meth:`valid`
            checks them, so a rebound global recomputes the hash.
    """

    digest: str
    covered: list[str] = field(default_factory=list)
    deps: list[tuple[dict[str, Any], str, Any]] = field(default_factory=list)

    def valid(self) -> bool:
        """Whether every global the hash read is still bound to the same object."""
        return all(ns.get(name, _MISSING) is obj for ns, name, obj in self.deps)


def project_root(fn: Any) -> str | None:
    """The directory whose code counts as "the same project" as ``fn``."""
    module = sys.modules.get(getattr(fn, "__module__", "") or "")
    file = getattr(module, "__file__", None) or _source_file(fn)
    if not file:
        return None
    top = (getattr(module, "__name__", "") or "").split(".")[0]
    top_mod = sys.modules.get(top)
    pkg_file = getattr(top_mod, "__file__", None)
    if (
        top_mod is not None
        and pkg_file
        and os.path.basename(pkg_file) == "__init__.py"
        and getattr(module, "__package__", None)
    ):
        return os.path.dirname(os.path.abspath(str(pkg_file)))
    return os.path.dirname(os.path.abspath(str(file)))


def _source_file(obj: Any) -> str | None:
    try:
        return inspect.getsourcefile(obj)
    except (TypeError, OSError):
        return None


def _installed(path: str) -> bool:
    parts = set(path.replace("\\", "/").split("/"))
    return "site-packages" in parts or "dist-packages" in parts


class _Walker:
    def __init__(self, root: str | None) -> None:
        self.root = root
        self.memo: dict[int, str] = {}
        self.in_progress: set[int] = set()
        self.covered: list[str] = []
        self.deps: list[tuple[dict[str, Any], str, Any]] = []

    def same_project(self, obj: Any) -> bool:
        is_module = isinstance(obj, types.ModuleType)
        name = obj.__name__ if is_module else (getattr(obj, "__module__", None) or "")
        if name.split(".")[0] in ("mlopskit", "builtins"):
            return False
        if not is_module and (name in ("", "__main__") or name not in sys.modules):
            return True  # a script, REPL, notebook or exec namespace: the user's own code
        if is_module:
            file = getattr(obj, "__file__", None)
        else:
            file = _source_file(obj) or getattr(sys.modules.get(name), "__file__", None)
        if not file or self.root is None:
            return not file and not is_module
        full = os.path.abspath(file)
        return full.startswith(self.root.rstrip(os.sep) + os.sep) and not _installed(full)

    # -- one function / class -------------------------------------------------------------

    def function(self, fn: types.FunctionType, *, root: bool = False) -> str:
        key = id(fn)
        if key in self.memo:
            return self.memo[key]
        if key in self.in_progress:
            return f"cycle:{fn.__module__}.{fn.__qualname__}"
        self.in_progress.add(key)
        try:
            body = _normalised_source(fn, root=root)
            deps = self.references(fn.__code__, fn.__globals__, _closure(fn))
            digest = _sha({"code": body, "deps": deps})
        finally:
            self.in_progress.discard(key)
        self.memo[key] = digest
        self.covered.append(f"{fn.__module__}.{fn.__qualname__}")
        return digest

    def klass(self, cls: type) -> str:
        key = id(cls)
        if key in self.memo:
            return self.memo[key]
        if key in self.in_progress:
            return f"cycle:{cls.__module__}.{cls.__qualname__}"
        self.in_progress.add(key)
        try:
            try:
                body = _normalise(textwrap.dedent(inspect.getsource(cls)), root=False)
            except (OSError, TypeError, SyntaxError):
                body = f"class:{cls.__module__}.{cls.__qualname__}"
            methods: dict[str, Any] = {}
            for name, member in sorted(vars(cls).items()):
                target = getattr(member, "__func__", member)
                if isinstance(target, property):
                    target = target.fget
                if isinstance(target, types.FunctionType):
                    methods[name] = self.references(
                        target.__code__, target.__globals__, _closure(target)
                    )
            digest = _sha({"class": body, "methods": methods})
        finally:
            self.in_progress.discard(key)
        self.memo[key] = digest
        self.covered.append(f"{cls.__module__}.{cls.__qualname__}")
        return digest

    # -- what a code object refers to -----------------------------------------------------

    def references(
        self, code: types.CodeType, globs: dict[str, Any], closure: dict[str, Any]
    ) -> dict[str, str]:
        names = _names(code)
        out: dict[str, str] = {}
        for name, value in sorted(closure.items()):
            out[f"closure:{name}"] = self.value(value)
        for name in sorted(names):
            value = globs.get(name, _MISSING)
            if value is _MISSING:
                continue
            self.deps.append((globs, name, value))
            if isinstance(value, types.ModuleType):
                out[name] = f"module:{value.__name__}"
                if self.same_project(value):
                    attrs = value.__dict__
                    for attr in sorted(names):
                        member = attrs.get(attr, _MISSING)
                        if member is _MISSING or isinstance(member, types.ModuleType):
                            continue
                        self.deps.append((attrs, attr, member))
                        out[f"{name}.{attr}"] = self.value(member)
                continue
            out[name] = self.value(value)
        return out

    def value(self, value: Any) -> str:
        if isinstance(value, types.FunctionType):
            if self.same_project(value):
                return self.function(value)
            return f"fn:{value.__module__}.{value.__qualname__}"
        if isinstance(value, type):
            if self.same_project(value):
                return self.klass(value)
            return f"type:{value.__module__}.{value.__qualname__}"
        if isinstance(value, (types.BuiltinFunctionType, types.MethodType)):
            return (
                f"callable:{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', '')}"
            )
        wrapped = getattr(value, "__wrapped__", None)
        if isinstance(wrapped, types.FunctionType):  # decorated helpers (@versioned, @cache)
            return "wrapped:" + self.value(wrapped)
        from mlopskit.versioning._hash import digest_value

        try:
            return digest_value(value, name="a global")
        except UnhashableArgumentError:
            return f"value-of-type:{type(value).__module__}.{type(value).__qualname__}"


def fingerprint(fn: Any) -> Fingerprint:
    """The code hash of ``fn`` (see the module docstring for what it covers)."""
    fn = inspect.unwrap(fn)
    walker = _Walker(project_root(fn))
    if isinstance(fn, types.FunctionType):
        digest = walker.function(fn, root=True)
    else:
        digest = walker.value(fn)
    return Fingerprint(digest=f"sha256:{digest}", covered=walker.covered, deps=walker.deps)


# -- helpers -------------------------------------------------------------------------------


def _sha(payload: Any) -> str:
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def _closure(fn: types.FunctionType) -> dict[str, Any]:
    if not fn.__closure__:
        return {}
    out: dict[str, Any] = {}
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__):
        try:
            out[name] = cell.cell_contents
        except ValueError:  # an empty cell (not yet assigned)
            continue
    return out


def _names(code: types.CodeType) -> set[str]:
    """Global and attribute names used by ``code`` and the code objects nested in it."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _normalised_source(fn: types.FunctionType, *, root: bool) -> str:
    if fn.__name__ != "<lambda>":
        try:
            source = textwrap.dedent(inspect.getsource(fn))
            return _normalise(source, root=root)
        except (OSError, TypeError, SyntaxError, IndexError):
            pass
    return "bytecode:" + _code_digest(fn.__code__)


def _code_digest(code: types.CodeType) -> str:
    consts = [_code_digest(c) if isinstance(c, types.CodeType) else repr(c) for c in code.co_consts]
    return _sha(
        {
            "code": code.co_code.hex(),
            "consts": consts,
            "names": list(code.co_names),
            "vars": list(code.co_varnames),
            "free": list(code.co_freevars),
        }
    )


def _is_versioned_decorator(node: ast.expr) -> bool:
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Attribute):
        return target.attr == "versioned"
    return isinstance(target, ast.Name) and target.id == "versioned"


class _StripDocstrings(ast.NodeTransformer):
    def _strip(self, node: Any) -> Any:
        self.generic_visit(node)
        body = node.body
        if (
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
        return node

    visit_FunctionDef = _strip
    visit_AsyncFunctionDef = _strip
    visit_ClassDef = _strip


def _normalise(source: str, *, root: bool) -> str:
    """An AST dump of ``source``: no comments, formatting, docstrings or line numbers."""
    tree = ast.parse(source)
    node: Any = tree.body[0] if len(tree.body) == 1 else tree
    if root and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        node.decorator_list = [d for d in node.decorator_list if not _is_versioned_decorator(d)]
    node = _StripDocstrings().visit(node)
    return ast.dump(node, annotate_fields=False, include_attributes=False)
