"""``@track``: one run per call of a function, sync or async."""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import re
import string
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

from mlopskit.errors import InvalidInputError
from mlopskit.tracking._flatten import describe_params, flatten_params
from mlopskit.tracking._run import Run
from mlopskit.tracking._status import status_for
from mlopskit.tracking._validate import check_key

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["REDACTED", "SECRET_NAMES", "track"]

F = TypeVar("F", bound=Callable[..., Any])

REDACTED = "***"
#: Argument names whose values are never recorded (matched case-insensitively).
SECRET_NAMES = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|"
    r"credential|auth|cookie|session[_-]?key)",
    re.IGNORECASE,
)


@overload
def track(fn: F) -> F: ...


@overload
def track(
    fn: None = None,
    *,
    experiment: str | None = None,
    name: str | None = None,
    params: bool | Iterable[str] = True,
    log_result: bool = True,
    tags: Mapping[str, Any] | None = None,
    redact: Iterable[str] = (),
    capture_env: bool = True,
) -> Callable[[F], F]: ...


def track(
    fn: F | None = None,
    *,
    experiment: str | None = None,
    name: str | None = None,
    params: bool | Iterable[str] = True,
    log_result: bool = True,
    tags: Mapping[str, Any] | None = None,
    redact: Iterable[str] = (),
    capture_env: bool = True,
) -> F | Callable[[F], F]:
    """Track every call of a function as a run (bare ``@track`` or ``@track(...)``).

    Each call starts a run (nested in the active run, if any) in the workspace in
    effect at call time; inside, ``mk.log_metric`` and friends log to it.

    - the bound arguments are logged as params (``self``/``cls`` skipped; arrays and
      frames as shape and digest; arguments named like ``password``, ``token``,
      ``secret``, ``api_key`` — or listed in ``redact`` — as ``***``);
    - a returned mapping's numbers are logged as metrics (NaN and ±infinity included,
      as MLflow logs them: a loss that diverged is what the run must show; a key that
      cannot be a metric name is left out with a RuntimeWarning);
    - the run ends FINISHED, or FAILED with the exception's type, message and
      traceback (the exception propagates unchanged);
    - git commit, branch, dirty flag (and diff), Python and package versions, host,
      user and command line are recorded as ``mlopskit.*`` tags.

    Args:
        experiment: experiment of the runs (default: the parent's, else ``default``).
        name: run name (default: the function's qualified name); ``{field}`` parts are
            filled from the call's bound arguments, defaults included
            (``name="{model}-{lr}"`` → ``rf-0.1``; format specs work: ``{lr:.0e}``;
            a secret argument reads ``***``). A field that names no argument raises
            InvalidInputError, when decorating if the function has no ``**kwargs``,
            else at the call that lacks it.
        params: False to log no arguments, or the names of the ones to log.
        log_result: log a returned mapping of numbers as metrics.
        tags: extra tags for every run.
        redact: more argument names to redact.
        capture_env: record the environment tags.

    The wrapper has ``.runs(**search_kwargs)`` → the DataFrame of this function's runs.
    """
    if fn is None:
        return functools.partial(
            track,
            experiment=experiment,
            name=name,
            params=params,
            log_result=log_result,
            tags=tags,
            redact=redact,
            capture_env=capture_env,
        )
    func: Callable[..., Any] = fn
    source = f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', repr(func))}"
    run_name = name or getattr(func, "__qualname__", "run")
    extra_secret = {r.lower() for r in redact}
    only = None if isinstance(params, bool) else set(params)
    signature = inspect.signature(func)
    templated = name is not None and _check_name_template(name, signature, source)

    def begin(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Run, float]:
        from mlopskit.tracking._fluent import start_run

        this_name = (
            _format_name(str(run_name), signature, args, kwargs, extra_secret, source)
            if templated
            else run_name
        )
        logged = _bound_params(signature, args, kwargs, only, extra_secret) if params else {}
        run_tags = {"mlopskit.source": source, **(tags or {})}
        run = start_run(
            experiment, name=this_name, params=logged, tags=run_tags, capture_env=capture_env
        )
        _record_inputs(run, signature, args, kwargs)
        return run, time.perf_counter()

    def finish(run: Run, started: float, result: Any) -> None:
        try:
            if log_result and isinstance(result, Mapping):
                numbers_, refused = _numeric(result)
                if refused:  # the call succeeded: its result is not lost for a bad name
                    warnings.warn(
                        f"@track of {source}: returned values not logged as metrics: "
                        f"{'; '.join(refused)}",
                        RuntimeWarning,
                        stacklevel=3,
                    )
                if numbers_:
                    run.log_metrics(numbers_)
            run.set_tag("mlopskit.duration", f"{time.perf_counter() - started:.6f}")
        except BaseException as exc:  # the run never stays RUNNING (and active)
            run.end(status_for(exc), error=exc)
            raise
        run.end("FINISHED")

    def fail(run: Run, started: float, exc: BaseException) -> None:
        try:
            run.set_tag("mlopskit.duration", f"{time.perf_counter() - started:.6f}")
        finally:
            run.end(status_for(exc), error=exc)

    wrapper: Callable[..., Any]
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            run, started = begin(args, kwargs)
            try:
                result = await func(*args, **kwargs)
            except BaseException as exc:
                fail(run, started, exc)
                raise
            finish(run, started, result)
            return result

        wrapper = async_wrapper
    else:

        @functools.wraps(func)
        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            run, started = begin(args, kwargs)
            try:
                result = func(*args, **kwargs)
            except BaseException as exc:
                fail(run, started, exc)
                raise
            finish(run, started, result)
            return result

        wrapper = sync_wrapper

    def runs(**search: Any) -> pd.DataFrame:
        """This function's runs in the current workspace (``search_runs`` arguments)."""
        from mlopskit.tracking._fluent import search_runs

        clause = f"tags.`mlopskit.source` = '{source}'"
        user = search.pop("filter", None)
        return search_runs(filter=f"{clause} and ({user})" if user else clause, **search)

    setattr(wrapper, "runs", runs)  # noqa: B010 - a function attribute mypy cannot see
    return wrapper  # type: ignore[return-value]


def _check_name_template(template: str, signature: inspect.Signature, source: str) -> bool:
    """Whether ``template`` has ``{fields}``; each must name an argument of the function
    (any name, when it takes ``**kwargs``). InvalidInputError otherwise."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise InvalidInputError(
            f"@track(name={template!r}) of {source} is not a format string: {exc}",
            expected="a name with {argument} fields, e.g. '{model}-{lr}'",
            found=template,
        ) from None
    if not fields:
        return False
    params = signature.parameters
    open_ended = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for field in fields:
        root = re.split(r"[.\[]", field, maxsplit=1)[0]
        if not root or root.isdigit():
            raise InvalidInputError(
                f"@track(name={template!r}) of {source}: fields name arguments "
                f"('{{model}}'), not positions ({{{field}}})",
                expected="{argument name}",
                found=f"{{{field}}}",
            )
        if root not in params and not open_ended:
            raise InvalidInputError(
                f"@track(name={template!r}) of {source}: {{{root}}} names no argument; "
                f"arguments: {', '.join(params) or 'none'}",
                expected=sorted(params),
                found=root,
            )
    return True


def _format_name(
    template: str,
    signature: inspect.Signature,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    extra_secret: set[str],
    source: str,
) -> str:
    """``template`` filled from the call's bound arguments (defaults applied, ``**kwargs``
    flattened, secrets as ``***``)."""
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError:
        return template  # the call itself raises the TypeError
    bound.apply_defaults()
    values: dict[str, Any] = {}
    for pname, value in bound.arguments.items():
        kind = signature.parameters[pname].kind
        items = value.items() if kind is inspect.Parameter.VAR_KEYWORD else [(pname, value)]
        for key, val in items:
            values[key] = REDACTED if _is_secret(key, extra_secret) else val
    try:
        return template.format_map(values)
    except KeyError as exc:
        missing = exc.args[0] if exc.args else "?"
        raise InvalidInputError(
            f"@track(name={template!r}) of {source}: this call has no argument {missing!r}; "
            f"it has {', '.join(values) or 'none'}",
            expected=sorted(values),
            found=missing,
        ) from None
    except (ValueError, AttributeError, IndexError, TypeError) as exc:
        raise InvalidInputError(
            f"@track(name={template!r}) of {source} cannot format this call's arguments: "
            f"{type(exc).__name__}: {exc}",
            found=template,
        ) from None


def _record_inputs(
    run: Run, signature: inspect.Signature, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    """Lineage: the run used every argument that is a stored version or was loaded from one."""
    from mlopskit._edges import record_use
    from mlopskit._provenance import node_of

    try:
        bound = signature.bind_partial(*args, **kwargs)
    except TypeError:
        return
    nodes = {}
    for name, value in bound.arguments.items():
        node = node_of(value)
        if node is not None:
            nodes[name] = node
    if nodes:
        record_use(run.tracker.store, run.run_id, nodes)


def _is_secret(name: str, extra: set[str]) -> bool:
    return name.lower() in extra or SECRET_NAMES.search(name) is not None


def _bound_params(
    signature: inspect.Signature,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    only: set[str] | None,
    extra_secret: set[str],
) -> dict[str, Any]:
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError:
        return {}  # the call itself will raise the TypeError
    bound.apply_defaults()
    out: dict[str, Any] = {}
    for pname, value in bound.arguments.items():
        kind = signature.parameters[pname].kind
        if pname in ("self", "cls") and kind is inspect.Parameter.POSITIONAL_OR_KEYWORD:
            continue
        items = value.items() if kind is inspect.Parameter.VAR_KEYWORD else [(pname, value)]
        for key, val in items:
            if only is not None and key not in only:
                continue
            out[key] = REDACTED if _is_secret(key, extra_secret) else val
    try:  # nested dicts as dotted names, objects as stable descriptions
        described = flatten_params(out)
    except InvalidInputError:  # two arguments flatten to one name: keep them whole
        described = describe_params(out)
    return {
        key: REDACTED if any(_is_secret(part, extra_secret) for part in key.split(".")) else val
        for key, val in described.items()
    }


def _numeric(result: Mapping[Any, Any]) -> tuple[dict[str, float], list[str]]:
    """The metrics of a returned mapping: its real numbers under string keys, as floats
    (NaN and ±infinity too: a diverged loss is news; an int beyond float64 is ±infinity),
    and why each number that cannot be a metric is not (an invalid metric name)."""
    out: dict[str, float] = {}
    refused: list[str] = []
    for key, value in result.items():
        if not isinstance(key, str) or isinstance(value, bool):
            continue
        if isinstance(value, numbers.Real):
            try:
                check_key(key, "metric")
            except InvalidInputError as exc:
                refused.append(str(exc))
                continue
            try:
                out[key] = float(value)
            except OverflowError:  # an int (or Fraction) too large for a float64
                out[key] = math.inf if cast("int", value) > 0 else -math.inf
    return out, refused
