"""``mk.autolog()``: fit calls of scikit-learn (and friends) log runs by themselves.

Nothing is patched when mlopskit is imported: :func:`autolog` patches the libraries
that are installed, ``autolog(disable=True)`` puts every original method back.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlopskit._log import get_logger
from mlopskit.errors import InvalidInputError

if TYPE_CHECKING:
    from mlopskit.tracking._run import Run

__all__ = ["AutologConfig", "Patches", "autolog", "autolog_run", "config", "patches", "safely"]

_log = get_logger("mlopskit.tracking")

#: The integrations :func:`autolog` knows, in the order they are tried.
FLAVORS: tuple[str, ...] = ("sklearn", "xgboost", "lightgbm")


@dataclass
class AutologConfig:
    """What an autologged fit records (set by :func:`autolog`)."""

    log_models: bool = True
    log_datasets: bool = True
    log_training_metrics: bool = True
    max_tuning_runs: int | None = None
    experiment: str | None = None
    flavors: set[str] = field(default_factory=set)


class Patches:
    """Methods replaced on library classes, and how to put them back."""

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any]] = []
        self._done: set[tuple[int, str]] = set()
        self.lock = threading.RLock()

    def patch(self, cls: Any, name: str, make: Callable[[Any], Any]) -> bool:
        """Replace ``cls.<name>`` (defined on the class or module itself) by ``make(original)``."""
        if (id(cls), name) in self._done or name not in vars(cls):
            return False
        original = vars(cls)[name]
        setattr(cls, name, make(original))
        self._saved.append((cls, name, original))
        self._done.add((id(cls), name))
        return True

    def undo(self) -> int:
        """Put every original back (newest first); the number restored."""
        count = 0
        while self._saved:
            cls, name, original = self._saved.pop()
            setattr(cls, name, original)
            count += 1
        self._done.clear()
        return count

    def __len__(self) -> int:
        return len(self._saved)


patches = Patches()
config = AutologConfig()


class _Session:
    """One autologged fit at a time: fits made inside it (a pipeline's steps, a
    search's candidates) run unlogged, as MLflow does."""

    def __init__(self) -> None:
        self.active = False
        self.lock = threading.Lock()

    def enter(self) -> bool:
        with self.lock:
            if self.active:
                return False
            self.active = True
            return True

    def leave(self) -> None:
        with self.lock:
            self.active = False


session = _Session()


def autolog(
    disable: bool = False,
    *,
    log_models: bool = True,
    log_datasets: bool = True,
    log_training_metrics: bool = True,
    max_tuning_runs: int | None = None,
    experiment: str | None = None,
) -> None:
    """Log a run for every ``fit`` of a scikit-learn estimator from now on.

    Each top-level ``fit`` (any estimator, ``Pipeline``, ``GridSearchCV`` ...) logs its
    ``get_params(deep=True)`` (estimators described as class and changed params, never
    an address), training metrics (``training_score``, accuracy/F1/... for
    classifiers, MSE/MAE/R² for regressors), the training data's schema and digest
    as a run input, and the fitted model as the ``model`` artifact (skops when
    installed, else the store's object codec). A hyper-parameter search also logs one
    child run per candidate and its best params (``best_<name>``) on the parent.
    Inside an active run the fit logs into it; otherwise it starts and ends its own.

    Args:
        disable: undo every patch (fits stop being logged).
        log_models: store the fitted model as an artifact.
        log_datasets: record the training data's digest and schema.
        log_training_metrics: score the model on its training data.
        max_tuning_runs: child runs for at most this many of a search's best-ranked
            candidates (None: all of them).
        experiment: the experiment of runs autolog starts (default: the current one).

    Raises:
        InvalidInputError: ``max_tuning_runs`` is negative.
    """
    if max_tuning_runs is not None and max_tuning_runs < 0:
        raise InvalidInputError(
            f"max_tuning_runs must be None or >= 0, found {max_tuning_runs}",
            found=max_tuning_runs,
        )
    with patches.lock:
        if disable:
            patches.undo()
            config.flavors.clear()
            return
        config.log_models = log_models
        config.log_datasets = log_datasets
        config.log_training_metrics = log_training_metrics
        config.max_tuning_runs = max_tuning_runs
        config.experiment = experiment
        from mlopskit._optional import is_available

        if "sklearn" not in config.flavors and is_available("sklearn"):
            from mlopskit.tracking._autolog import _sklearn

            _sklearn.install(patches)
            config.flavors.add("sklearn")
        for flavor in ("xgboost", "lightgbm"):
            if flavor not in config.flavors and is_available(flavor):
                from mlopskit.tracking._autolog import _boosting

                _boosting.install(flavor, patches)
                config.flavors.add(flavor)
        if not config.flavors:
            _log.warning("autolog: none of scikit-learn, xgboost, lightgbm is installed")


@contextlib.contextmanager
def autolog_run() -> Iterator[Run]:
    """The active run, or a run of its own that ends with the block (FAILED if it raises)."""
    from mlopskit.tracking._fluent import current_tracker
    from mlopskit.tracking._tracker import active

    run = active()
    if run is not None:
        yield run
        return
    with current_tracker().start_run(config.experiment) as own:
        yield own


def safely(flavor: str, fn: Callable[..., Any], *args: Any) -> None:
    """Call ``fn(*args)``; a failure is a warning: logging never breaks the user's fit."""
    try:
        fn(*args)
    except Exception as exc:
        _log.warning("autolog could not record a %s fit: %r", flavor, exc)
