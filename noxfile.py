"""Developer sessions: ``nox -s tests lint typing docs bench examples``.

Sessions run on the interpreter nox runs on; ``nox -s tests_all`` runs the tests on
every Python version the pyproject classifiers name that is installed here.
"""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typing", "docs", "examples"]
nox.options.reuse_existing_virtualenvs = True

PYPROJECT = nox.project.load_toml("pyproject.toml")
PYTHONS = nox.project.python_versions(PYPROJECT)


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite, as CI runs it (starts its own local S3 server)."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(python=PYTHONS)
def tests_all(session: nox.Session) -> None:
    """The test suite on every supported Python version."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, and the import-linter contract that keeps the layers pointing down."""
    session.install("-e", ".", "ruff>=0.6", "import-linter>=2.0")
    session.run("ruff", "check", "src", "tests", "benchmarks", "examples", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "benchmarks", "examples")
    session.run("lint-imports")


@nox.session
def typing(session: nox.Session) -> None:
    """mypy --strict on src/."""
    session.install("-e", ".[test]", "mypy>=1.10", "pandas-stubs", "types-tqdm")
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the docs strictly and run every example in them."""
    session.install("-e", ".[test]", "mkdocs>=1.6")
    session.run("mkdocs", "build", "--strict", "--site-dir", "site")
    session.run("python", "-m", "pytest", "tests/test_docs.py", "-q")


@nox.session
def examples(session: nox.Session) -> None:
    """Run every script in examples/ as a user would."""
    import pathlib

    session.install("-e", ".[test]")
    for script in sorted(pathlib.Path("examples").glob("*.py")):
        session.run("python", str(script))


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks against the anchors, in the same run; prints ratios."""
    session.install("-e", ".[test,fast]", "dvc>=3.50", "joblib")
    args = session.posargs or ["store"]
    for name in args:
        session.run("python", f"benchmarks/bench_{name}.py")


@nox.session
def bench_tracking(session: nox.Session) -> None:
    """The tracker benchmark against MLflow (SQLite store) and trackio; prints ratios."""
    session.install("-e", ".", "mlflow", "trackio")
    session.run("python", "benchmarks/bench_tracking.py", *session.posargs)


@nox.session
def mlflow(session: nox.Session) -> None:
    """import_mlflow against file and SQLite stores written by MLflow itself."""
    session.install("-e", ".[test,mlflow]", "mlflow")
    session.run(
        "python", "-m", "pytest", "tests/tracking/test_mlflow_interop.py", "-q", *session.posargs
    )


@nox.session
def bench_versioning(session: nox.Session) -> None:
    """@versioned vs joblib.Memory (100 MiB and tiny hits) and datasets.commit vs dvc add."""
    session.install("-e", ".[fast,parquet]", "joblib", "dvc>=3.50")
    session.run("python", "benchmarks/bench_versioning.py", *session.posargs)


@nox.session
def bench_lineage(session: nox.Session) -> None:
    """mk.lineage up from one model in a 10,000-run / 100,000-edge graph vs a full scan."""
    session.install("-e", ".")
    session.run("python", "benchmarks/bench_lineage.py", *session.posargs)


@nox.session
def evidently(session: nox.Session) -> None:
    """drift's preset="evidently" against Evidently 0.7.23 itself (needs pandas<3)."""
    session.install("-e", ".", "evidently==0.7.23", "pandas<3", "pytest>=8", "hypothesis>=6.100")
    session.run(
        "python",
        "-m",
        "pytest",
        "tests/drift/test_evidently_compat.py",
        "-q",
        *session.posargs,
        env={"DO_NOT_TRACK": "1"},
    )


@nox.session
def dask(session: nox.Session) -> None:
    """drift on Dask DataFrames, on a distributed LocalCluster (also in the default run)."""
    session.install("-e", ".[test,dask]")
    session.run("python", "-m", "pytest", "tests/drift/test_dask.py", "-q", *session.posargs)


@nox.session
def bench_drift(session: nox.Session) -> None:
    """drift vs Evidently 0.7.23 DataDriftPreset, a scipy KS loop and numpy PSI (1M x 20)."""
    session.install("-e", ".", "evidently==0.7.23", "pandas<3")
    session.run("python", "benchmarks/bench_drift.py", *session.posargs, env={"DO_NOT_TRACK": "1"})


def _floor_constraints(session: nox.Session) -> str:
    """A pip constraints file pinning each core dependency to its pyproject minimum."""
    import pathlib
    import re

    lines = []
    for requirement in PYPROJECT["project"]["dependencies"]:
        match = re.match(r"^\s*([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*>=\s*([^,;\s]+)", requirement)
        if match is None:
            session.error(f"core dependency {requirement!r} has no '>=' floor")
        lines.append(f"{match.group(1)}=={match.group(2)}")
    path = pathlib.Path(session.create_tmp()) / "floors.txt"
    path.write_text("\n".join(lines) + "\n")
    session.log("floors: " + ", ".join(lines))
    return str(path)


@nox.session
def floors(session: nox.Session) -> None:
    """The non-slow tests with every core dependency at its declared minimum.

    Equivalent to ``uv pip install --resolution lowest-direct``: pins pydantic, numpy,
    pandas, scipy, cloudpickle, fsspec, structlog and pyarrow to their floors, so a
    floor that no longer works (or admits a known-bad combination) fails here first.
    """
    constraints = _floor_constraints(session)
    session.install("-c", constraints, "-e", ".[test]")
    session.run("python", "-m", "pip", "list", "--format=freeze", silent=False)
    args = session.posargs or ["-q", "-x"]
    session.run(
        "python", "-m", "pytest", "-m", "not slow and not s3", "-p", "no:cacheprovider", *args
    )


@nox.session
def fuzz(session: nox.Session) -> None:
    """Hypothesis fuzzing of every parser (``-m fuzz``) under the large ``fuzz`` profile."""
    session.install("-e", ".[test]")
    session.run(
        "python",
        "-m",
        "pytest",
        "-m",
        "fuzz",
        "-q",
        *session.posargs,
        env={"HYPOTHESIS_PROFILE": "fuzz", "MLOPSKIT_FUZZ_EXAMPLES": "1000"},
    )
