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
    """Build the site strictly (mkdocs-material + mkdocstrings API pages), then run every
    example: the docs' python blocks, examples/*.py and the notebook (``-- -k NAME``)."""
    session.install("-e", ".[test,docs]")
    session.run(
        "mkdocs", "build", "--strict", "--site-dir", "site", env={"NO_MKDOCS_2_WARNING": "1"}
    )
    session.run(
        "python",
        "-m",
        "pytest",
        "tests/test_docs.py",
        "tests/test_examples.py",
        "tests/test_notebook.py",
        "-q",
        *session.posargs,
    )


@nox.session
def examples(session: nox.Session) -> None:
    """Run every script in examples/ as a user would."""
    import pathlib

    session.install("-e", ".[test]")
    for script in sorted(pathlib.Path("examples").glob("*.py")):
        session.run("python", str(script))


# Every anchor the benchmarks compare against, in one venv (Evidently 0.7.23 needs pandas<3).
BENCH_ANCHORS = (
    "dvc>=3.50",
    "dvc-s3",
    "joblib",
    "mlflow",
    "trackio",
    "evidently==0.7.23",
    "pandas<3",
)


@nox.session
def bench(session: nox.Session) -> None:
    """One or more benches by name (``nox -s bench -- store drift``); prints ratios."""
    session.install("-e", ".[test,fast]", *BENCH_ANCHORS)
    args = session.posargs or ["store"]
    for name in args:
        session.run("python", f"benchmarks/bench_{name}.py", env={"DO_NOT_TRACK": "1"})


def serve_anchor_pythons(session: nox.Session) -> dict[str, str]:
    """The pythons of the serving anchors' own venvs (MLflow, MLServer), built beside this one.

    Each holds its engine and the scikit-learn of ``session``, so every server loads the
    same pickled model.
    """
    import pathlib

    out = session.run("python", "-c", "import sklearn; print(sklearn.__version__)", silent=True)
    if out is None:  # `nox --install-only`: commands do not run, nothing to pin against
        return {"mlflow": "", "mlserver": ""}
    sklearn = out.strip()
    anchors = {
        "mlflow": ["mlflow==3.17.2"],
        # MLServer 1.7.1's worker dies with uvloop 0.22 (SeldonIO/MLServer#2286)
        "mlserver": ["mlserver==1.7.1", "mlserver-sklearn==1.7.1", "uvloop<0.22"],
    }
    pythons = {}
    for name, pins in anchors.items():
        venv = pathlib.Path(session.virtualenv.location).parent / f"bench_serve_{name}"
        python = venv / "bin" / "python"
        if not python.exists():
            session.run("python", "-m", "venv", str(venv))
        session.run(
            str(python), "-m", "pip", "install", "-q", *pins, f"scikit-learn=={sklearn}",
            external=True,
        )  # fmt: skip
        pythons[name] = str(python)
    return pythons


@nox.session
def bench_all(session: nox.Session) -> None:
    """Every benchmarks/bench_*.py -> ONE record, benchmarks/records/<UTC date>.json.

    ``nox -s bench_all -- --quick`` for a short run; ``-- --out PATH`` to write elsewhere.
    Render it with ``python benchmarks/render.py RECORD --docs docs/performance.md`` and
    compare two with ``python benchmarks/compare.py OLD NEW``.
    """
    import datetime

    session.install("-e", ".[test,fast]", *BENCH_ANCHORS)
    serve = serve_anchor_pythons(session)
    args = list(session.posargs)
    args += [
        "--args",
        # the lean client (one selectors loop, pre-encoded requests) since run13: a third of
        # http.client's CPU per request, so less of each p99 is the client's own
        f"serve=--mlflow-python {serve['mlflow']} --mlserver-python {serve['mlserver']} "
        "--client lean",
        "--args",
        "s3=--settled-runs 10000",  # issue 15's size for the index-covered search
    ]
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
def bench_sync(session: nox.Session) -> None:
    """`mlopskit push` vs `dvc push` (dvc-s3) of 10,000 small files to the moto S3 server."""
    session.install("-e", ".[test]", "dvc>=3.50", "dvc-s3")
    session.run("python", "benchmarks/bench_sync.py", *session.posargs, env={"DO_NOT_TRACK": "1"})


@nox.session
def bench_tracking(session: nox.Session) -> None:
    """The tracker benchmark against MLflow (SQLite store) and trackio; prints ratios."""
    session.install("-e", ".", "mlflow", "trackio")
    session.run("python", "benchmarks/bench_tracking.py", *session.posargs)


@nox.session
def mlflow(session: nox.Session) -> None:
    """import_mlflow against file and SQLite stores written by MLflow 3.17 itself."""
    session.install("-e", ".[test,mlflow,sklearn]", "mlflow==3.17.2")
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


@nox.session
def bench_serve(session: nox.Session) -> None:
    """serve()/Predictor vs `mlflow models serve` 3.17.2 and MLServer 1.7.1, each in its own venv."""
    session.install("-e", ".[serve,sklearn]")
    pythons = serve_anchor_pythons(session)
    session.run(
        "python",
        "benchmarks/bench_serve.py",
        "--mlflow-python",
        pythons["mlflow"],
        "--mlserver-python",
        pythons["mlserver"],
        *session.posargs,
    )


@nox.session
def bench_ui(session: nox.Session) -> None:
    """The web UI in headless Chromium: 10,000-run page, 1M-point chart (needs apt chromium)."""
    session.install("-e", ".[ui]", "playwright>=1.40")
    session.run("python", "benchmarks/bench_ui.py", *session.posargs)


@nox.session
def airflow(session: nox.Session) -> None:
    """examples/ci/airflow_dag.py: imported by Airflow and run once with ``dag.test()``."""
    import pathlib
    import shutil

    tmp = pathlib.Path(session.create_tmp()).resolve() / "airflow-example"
    shutil.rmtree(tmp, ignore_errors=True)  # a fresh workspace every run
    session.install("-e", ".[sklearn,checks]", "apache-airflow>=2.9")
    env = {
        "AIRFLOW_HOME": str(tmp / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # dag.test() (Airflow 3) syncs the DAG from its bundle: the DAGs folder holds it
        "AIRFLOW__CORE__DAGS_FOLDER": str(pathlib.Path("examples/ci").resolve()),
        "MLOPSKIT_HOME": str(tmp / "ws"),
    }
    session.run("airflow", "db", "migrate", env=env)
    session.run("python", "examples/ci/airflow_dag.py", env=env)
    session.run(
        "python",
        "-c",
        "import mlopskit as mk; mk.set_workspace(__import__('os').environ['MLOPSKIT_HOME']); "
        "assert mk.registry.aliases('churn')['champion'] == 1; "
        "assert mk.checks.list_triggers(pending=True) == []",
        env=env,
    )


@nox.session
def prefect(session: nox.Session) -> None:
    """examples/ci/prefect_flow.py: the flow run once (a local ephemeral Prefect server)."""
    import pathlib
    import shutil

    tmp = pathlib.Path(session.create_tmp()).resolve() / "prefect-example"
    shutil.rmtree(tmp, ignore_errors=True)  # a fresh workspace every run
    (tmp / "prefect").mkdir(parents=True)  # Prefect's SQLite database lives there
    session.install("-e", ".[sklearn,checks]", "prefect>=3")
    env = {
        "PREFECT_HOME": str(tmp / "prefect"),
        "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE": "true",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300",  # a loaded 2-core machine
        "DO_NOT_TRACK": "1",
        "MLOPSKIT_HOME": str(tmp / "ws"),
    }
    session.run("python", "examples/ci/prefect_flow.py", env=env)


# -- deployment adapters, each proven by its engine in its own venv (issue 9) ----------------
# The engines pin conflicting versions, so none is a dependency and each session installs
# one; the adapter tests skip cleanly wherever their engine is absent.
ADAPTER_TESTS = "tests/deploy/adapters"
ADAPTER_BASE = ["-e", ".[serve,sklearn,mlflow]", "pytest>=8", "hypothesis>=6.100", "httpx>=0.27"]


def _adapter_session(session: nox.Session, engine: list[str], *tests: str) -> None:
    session.install(*ADAPTER_BASE, *engine)
    paths = [f"{ADAPTER_TESTS}/{t}" for t in tests]
    session.run("python", "-m", "pytest", "-p", "no:cacheprovider", *paths, *session.posargs)


@nox.session
def mlflow_export(session: nox.Session) -> None:
    """MLflow loads and serves deploy.mlflow.export's directory; deploy.mlflow.load reads MLflow's."""
    _adapter_session(session, ["mlflow==3.17.2"], "test_mlflow_export.py", "test_mlflow_engine.py")


@nox.session
def sagemaker(session: nox.Session) -> None:
    """The model.tar.gz serves SageMaker's contract; boto3 requests accepted by moto on loopback."""
    _adapter_session(
        session, ["moto[server]>=5.0", "boto3", "s3fs>=2024.12.0"], "test_sagemaker.py"
    )


@nox.session
def kserve(session: nox.Session) -> None:
    """Manifests (CRD schema, kubernetes-validate --strict) and KServe's ModelServer runtime."""
    _adapter_session(
        session,
        ["kserve==0.21.0", "jsonschema>=4", "kubernetes-validate>=1.30"],
        "test_manifests.py",
        "test_kserve_engine.py",
    )


@nox.session
def mlserver(session: nox.Session) -> None:
    """`mlserver start` serves deploy.mlserver.export's repository through the mlopskit Runtime."""
    # MLServer 1.7.1's worker dies with uvloop 0.22 (SeldonIO/MLServer#2286)
    _adapter_session(session, ["mlserver==1.7.1", "uvloop<0.22"], "test_mlserver.py")


@nox.session
def docker_context(session: nox.Session) -> None:
    """The Dockerfile parsed; the entrypoint served from a fresh venv (no Docker engine needed)."""
    _adapter_session(session, [], "test_docker.py")


@nox.session
def bentoml(session: nox.Session) -> None:
    """`bentoml build` and `bentoml serve` of deploy.bentoml.export's service directory."""
    _adapter_session(session, ["bentoml>=1.4,<1.5"], "test_bentoml.py")


@nox.session
def autolog_compat(session: nox.Session) -> None:
    """mk.autolog records every param and metric mlflow.sklearn.autolog does."""
    session.install("-e", ".[test]", "mlflow")
    session.run(
        "python",
        "-m",
        "pytest",
        "tests/tracking/test_autolog_mlflow_compat.py",
        "-q",
        *session.posargs,
    )


@nox.session
def bench_autolog(session: nox.Session) -> None:
    """mk.autolog vs mlflow.sklearn.autolog on a tiny and a ~1 s fit; system-metrics cost."""
    session.install("-e", ".[test,system]", "mlflow")
    session.run("python", "benchmarks/bench_autolog.py", *session.posargs)


@nox.session
def autolog(session: nox.Session) -> None:
    """mk.autolog against real scikit-learn, XGBoost (CPU build) and LightGBM."""
    session.install("-e", ".[test]", "xgboost-cpu", "lightgbm")
    session.run("python", "-m", "pytest", "tests/tracking", "-q", "-k", "autolog", *session.posargs)
