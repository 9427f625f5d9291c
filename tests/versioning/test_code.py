"""The code hash: own source and same-project callees, blind to comments and formatting."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import textwrap
import uuid
from pathlib import Path
from types import ModuleType

import pytest

from mlopskit.store import ArtifactStore
from mlopskit.versioning import versioned
from mlopskit.versioning._code import fingerprint, project_root


def write_module(directory: Path, name: str, source: str) -> ModuleType:
    """Write ``source`` as module ``name`` in ``directory`` and import it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
    importlib.invalidate_caches()
    if name in sys.modules:
        return importlib.reload(sys.modules[name])
    return importlib.import_module(name)


@pytest.fixture
def project(tmp_path: Path) -> object:
    """A fresh project directory; its modules are unloaded afterwards."""
    before = set(sys.modules)
    yield tmp_path / f"proj{uuid.uuid4().hex[:8]}"
    for name in set(sys.modules) - before:
        if name.startswith("m_"):
            del sys.modules[name]
    sys.path[:] = [p for p in sys.path if not p.startswith(str(tmp_path))]


def uniq(prefix: str) -> str:
    return f"m_{prefix}_{uuid.uuid4().hex[:8]}"


BASE = '''
def helper(x):
    return x + 1

def f(x):
    """Docstring."""
    return helper(x) * 2
'''


class TestCosmetics:
    def test_comments_formatting_and_docstrings_do_not_count(self, project: Path) -> None:
        """A cosmetic edit (comments, spacing, docstring) keeps the code hash (joblib#1710)."""
        a = write_module(project, uniq("a"), BASE)
        b = write_module(
            project,
            uniq("b"),
            '''
            # a comment
            def helper(x):   # another
                return (x
                        + 1)


            def f(x):
                """A different docstring, and a print-free cosmetic change."""
                # explain
                return helper(x)*2
            ''',
        )
        assert fingerprint(a.f).digest == fingerprint(b.f).digest

    def test_the_versioned_decorator_line_does_not_count(self, project: Path) -> None:
        """Changing @versioned(...) arguments on the function does not change its code hash."""
        src = """
        from mlopskit.versioning import versioned

        @versioned(store="memory://{s}")
        def f(x):
            return x
        """
        a = write_module(project, uniq("a"), src.format(s="one"))
        b = write_module(project, uniq("b"), src.format(s="two"))
        assert a.f.code_hash == b.f.code_hash


class TestCoverage:
    def test_editing_a_helper_changes_the_hash(self, project: Path) -> None:
        """A same-module helper is part of the hash (joblib#1621)."""
        a = write_module(project, uniq("a"), BASE)
        b = write_module(project, uniq("b"), BASE.replace("x + 1", "x + 2"))
        assert fingerprint(a.f).digest != fingerprint(b.f).digest
        assert any(name.endswith(".helper") for name in fingerprint(a.f).covered)

    def test_helpers_in_another_project_module_count(self, project: Path) -> None:
        """Editing a helper in another module of the project changes the hash."""
        helpers = uniq("helpers")
        write_module(project, helpers, "def clean(x):\n    return x - 1\n")
        main = write_module(
            project, uniq("main"), f"import {helpers}\n\ndef f(x):\n    return {helpers}.clean(x)\n"
        )
        before = fingerprint(main.f)
        assert before.valid()
        write_module(project, helpers, "def clean(x):\n    return x - 2\n")
        assert not before.valid()  # the helper was rebound: recompute
        assert fingerprint(main.f).digest != before.digest

    def test_global_constants_count(self, project: Path) -> None:
        """The value of a global the function reads is part of the hash."""
        a = write_module(project, uniq("a"), "SCALE = 2\n\ndef f(x):\n    return x * SCALE\n")
        b = write_module(project, uniq("b"), "SCALE = 3\n\ndef f(x):\n    return x * SCALE\n")
        assert fingerprint(a.f).digest != fingerprint(b.f).digest

    def test_helpers_called_in_comprehensions_and_closures_count(self, project: Path) -> None:
        """Code in comprehensions and closure variables is covered."""
        src = """
        def helper(x):
            return x + {n}

        def make():
            k = {n}
            def f(xs):
                return [helper(x) + k for x in xs]
            return f
        f = make()
        """
        a = write_module(project, uniq("a"), src.format(n=1))
        b = write_module(project, uniq("b"), src.format(n=2))
        assert any(name.endswith(".helper") for name in fingerprint(a.f).covered)
        assert fingerprint(a.f).digest != fingerprint(b.f).digest

    def test_same_project_classes_count(self, project: Path) -> None:
        """A same-project class used by the function is hashed with its methods."""
        src = """
        class Scaler:
            def apply(self, x):
                return x * {n}

        def f(x):
            return Scaler().apply(x)
        """
        a = write_module(project, uniq("a"), src.format(n=1))
        b = write_module(project, uniq("b"), src.format(n=2))
        assert fingerprint(a.f).digest != fingerprint(b.f).digest

    def test_third_party_code_counts_by_name_only(self, project: Path) -> None:
        """numpy functions are referenced by name; their source is not walked."""
        a = write_module(
            project, uniq("a"), "import numpy as np\n\ndef f(x):\n    return np.mean(x)\n"
        )
        fp = fingerprint(a.f)
        assert not any("numpy" in name for name in fp.covered)
        assert project_root(a.f) == str(project)

    def test_lambdas_and_recursion_are_hashed(self, project: Path) -> None:
        """Lambdas (by bytecode) and recursive functions get a stable hash."""
        a = write_module(
            project,
            uniq("a"),
            "g = lambda x: x + 1\n\ndef fact(n):\n    return 1 if n <= 1 else n * fact(n - 1)\n",
        )
        assert fingerprint(a.g).digest == fingerprint(a.g).digest
        assert fingerprint(a.fact).digest.startswith("sha256:")


class TestEndToEnd:
    def test_cosmetic_edit_hits_and_semantic_edit_misses(self, project: Path) -> None:
        """Through @versioned: a reformatted helper still hits; a changed helper misses."""
        store_url = f"memory://code-{uuid.uuid4().hex}"
        src = """
        from mlopskit.versioning import versioned

        def helper(x):
            return x + {inc}

        @versioned(store="{url}")
        def f(x):
            return helper(x)
        """
        name = uniq("e2e")
        m = write_module(project, name, src.format(inc="1", url=store_url))
        assert m.f(1) == 2
        m = write_module(project, name, src.format(inc="1  # cosmetic", url=store_url))
        assert m.f.lookup(1) is not None
        m = write_module(project, name, src.format(inc="5", url=store_url))
        assert m.f.lookup(1) is None
        assert m.f(1) == 6
        assert len(m.f.versions()) == 2

    def test_rebinding_a_helper_in_the_process_is_noticed(self) -> None:
        """Redefining a global helper (as in a notebook) changes the key at the next call."""
        store = ArtifactStore(f"memory://rebind-{uuid.uuid4().hex}")
        ns: dict[str, object] = {}
        exec(  # a module-less namespace, as in a REPL
            "def helper(x):\n    return x + 1\n\ndef f(x):\n    return helper(x)\n", ns
        )
        f = versioned(store=store)(ns["f"])  # type: ignore[call-overload]
        assert f(1) == 2
        exec("def helper(x):\n    return x + 100\n", ns)
        assert f.lookup(1) is None
        assert f(1) == 101
