"""The package as a whole: its public surface, import cost, errors and configuration."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

import mlopskit
from mlopskit import _config, errors
from mlopskit._optional import import_optional

HEAVY = (
    "pandas",
    "scipy",
    "cloudpickle",
    "s3fs",
    "pyarrow",
    "fsspec.implementations.local",
    "fsspec.implementations.memory",
    "sqlalchemy",
    "dask",
    "structlog",
    "numpy",
)


class TestPublicSurface:
    def test_all_is_sorted_and_resolves(self) -> None:
        """Every name in __all__ resolves, and __all__ is sorted."""
        assert mlopskit.__all__ == sorted(mlopskit.__all__)
        for name in mlopskit.__all__:
            assert getattr(mlopskit, name) is not None

    def test_all_equals_public_names(self) -> None:
        """__all__ lists exactly the public names of the facade (and dir() shows them)."""
        public = {n for n in dir(mlopskit) if not n.startswith("_")}
        public -= {"annotations", "importlib", "TYPE_CHECKING", "Any"}
        assert public == {n for n in mlopskit.__all__ if not n.startswith("_")}

    def test_unknown_attribute_raises_attribute_error(self) -> None:
        """A typo gets an AttributeError naming the attribute."""
        with pytest.raises(AttributeError, match="no_such_thing"):
            _ = mlopskit.no_such_thing  # type: ignore[attr-defined]

    def test_errors_all_is_sorted_and_complete(self) -> None:
        """errors.__all__ names every error class, sorted."""
        classes = {
            n
            for n, v in vars(errors).items()
            if isinstance(v, type) and issubclass(v, errors.MlopskitError)
        }
        assert errors.__all__ == sorted(classes)


class TestImportCost:
    def test_import_leaves_heavy_modules_out(self) -> None:
        """`import mlopskit` loads none of the heavy dependencies."""
        code = (
            "import sys, json, mlopskit; "
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert json.loads(out.stdout) == []

    def test_import_configures_no_logging(self) -> None:
        """Importing prints nothing and adds no handler to the root logger."""
        code = "import logging, mlopskit; assert not logging.getLogger().handlers; print('ok')"
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert out.stdout == "ok\n"
        assert out.stderr == ""


class TestErrors:
    def test_not_found_is_a_key_error_with_a_readable_message(self) -> None:
        """NotFoundError is caught by `except KeyError` and its message is not quoted."""
        err = errors.NotFoundError("no object sha256:ab", digest="sha256:ab")
        assert isinstance(err, KeyError)
        assert str(err) == "no object sha256:ab"
        assert err.digest == "sha256:ab"  # type: ignore[attr-defined]

    def test_missing_extra_names_the_extra(self) -> None:
        """A missing optional dependency says which extra to install."""
        with pytest.raises(errors.MissingExtraError, match=r"pip install 'pymlopskit\[zzz\]'"):
            import_optional("mlopskit_no_such_module", "zzz")
        assert issubclass(errors.MissingExtraError, ImportError)


class TestConfig:
    def test_explicit_beats_environment_beats_default(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: object
    ) -> None:
        """Settings resolve explicit > MLOPSKIT_* > default, read at call time."""
        monkeypatch.delenv("MLOPSKIT_HOME", raising=False)
        monkeypatch.chdir(str(tmp_path))
        assert _config.home().endswith(".mlopskit")
        monkeypatch.setenv("MLOPSKIT_HOME", "/env/home")
        assert _config.home() == "/env/home"
        assert _config.home("/explicit") == "/explicit"

    def test_bad_flag_value_is_a_config_error(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A malformed switch in the environment is reported with its name and value."""
        monkeypatch.setenv("MLOPSKIT_PROGRESS", "sometimes")
        with pytest.raises(errors.ConfigError, match="MLOPSKIT_PROGRESS='sometimes'"):
            _config.flag("progress", default=None)


class TestLogging:
    def test_logger_goes_through_stdlib_mlopskit_logger(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Events reach the stdlib `mlopskit.*` logger, where the application decides."""
        from mlopskit._log import get_logger

        with caplog.at_level(logging.INFO, logger="mlopskit"):
            get_logger("mlopskit.test").info("hello_event", key=1)
        assert any(
            "hello_event" in r.getMessage() and r.name == "mlopskit.test" for r in caplog.records
        )


class TestNewWorkspaceIsIgnoredByGit:
    def test_a_new_local_workspace_has_a_gitignore(self, tmp_path: Path) -> None:
        """The first write into a new local workspace creates it with a .gitignore of `*`."""
        import mlopskit as mk

        root = tmp_path / "repo" / ".mlopskit"
        with mk.Workspace(root) as ws:
            ws.store.put_bytes(b"data")
        assert (root / ".gitignore").read_text().splitlines()[-1] == "*"
        assert ws.store.verify().ok

    def test_runs_alone_create_it_too(self, tmp_path: Path) -> None:
        """Starting a run (SQLite) in a new workspace also marks it ignored."""
        import mlopskit as mk

        root = tmp_path / "ws"
        with mk.Workspace(root), mk.start_run("e"):
            pass
        assert (root / ".gitignore").exists()

    def test_an_existing_directory_is_left_alone(self, tmp_path: Path) -> None:
        """A directory that already existed gets no .gitignore written into it."""
        import mlopskit as mk

        root = tmp_path / "mine"
        root.mkdir()
        with mk.Workspace(root) as ws:
            ws.store.put_bytes(b"data")
        assert not (root / ".gitignore").exists()
