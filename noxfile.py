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


# Every anchor the benchmarks compare against, in one venv (Evidently 0.7.23 needs pandas<3).
BENCH_ANCHORS = ("dvc>=3.50", "joblib", "mlflow", "trackio", "evidently==0.7.23", "pandas<3")


@nox.session
def bench(session: nox.Session) -> None:
    """One or more benches by name (``nox -s bench -- store drift``); prints ratios."""
    session.install("-e", ".[test,fast]", *BENCH_ANCHORS)
    args = session.posargs or ["store"]
    for name in args:
        session.run("python", f"benchmarks/bench_{name}.py", env={"DO_NOT_TRACK": "1"})


@nox.session
def bench_all(session: nox.Session) -> None:
    """Every benchmarks/bench_*.py -> ONE record, benchmarks/records/<UTC date>.json.

    ``nox -s bench_all -- --quick`` for a short run; ``-- --out PATH`` to write elsewhere.
    Render it with ``python benchmarks/render.py RECORD --docs docs/performance.md`` and
    compare two with ``python benchmarks/compare.py OLD NEW``.
    """
    import datetime

    session.install("-e", ".[test,fast]", *BENCH_ANCHORS)
    args = list(session.posargs)
    if "--out" not in args:
        day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
        args += ["--out", f"benchmarks/records/{day}.json"]
    session.run("python", "benchmarks/record.py", *args, env={"DO_NOT_TRACK": "1"})


@nox.session
def bench_store(session: nox.Session) -> None:
    """put_file / put_dir / re-put vs dvc add (as processes and in-process)."""
    session.install("-e", ".[fast]", "dvc>=3.50")
    session.run("python", "benchmarks/bench_store.py", *session.posargs)


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
