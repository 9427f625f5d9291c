"""The model registry: numbered model versions, movable aliases, tags, history, rollback.

Layout (refs of the store)::

    models/<name>/v/<n>              → version n's record (links the model; gc keeps it)
    models/<name>/aliases/<alias>    → the record of the version the alias points to
    models/<name>/tags               → the model's tags (a record, moved by CAS)
    models/<name>/vtags/<n>          → version n's current tags

Version numbers are allocated by create-only refs (distinct and gap-free under
concurrent registrations); aliases are refs, so every move is an append-only audit
record (who, when, why, from → to) and concurrent moves never tear or get lost.
There are no stages: aliases and tags replace them.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import pickletools
import platform
import re
import warnings
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from mlopskit import _context
from mlopskit._log import get_logger
from mlopskit._provenance import recall, remember
from mlopskit._records import read_record_as
from mlopskit._suggest import did_you_mean
from mlopskit.errors import (
    IntegrityError,
    InvalidInputError,
    InvalidNameError,
    NotFoundError,
    PromotionRefusedError,
    RefConflictError,
)
from mlopskit.registry._signature import ModelSignature, infer_signature
from mlopskit.serialize import is_pickle_media_type
from mlopskit.store import ArtifactRef, RefRecord
from mlopskit.versioning import (
    MAX_NAME_BYTES,
    Endpoint,
    LineageEdge,
    NumberedArea,
    NumberedVersion,
    VersionList,
    check_name,
    materialize,
    read_version,
    record_edge,
    record_use,
)

__all__ = [
    "GateOutcome",
    "ModelVersion",
    "PackageVersionWarning",
    "PromotionRefusedError",
    "Registry",
    "RegistryEvent",
    "parse_model_uri",
]

log = get_logger("mlopskit.registry")

_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_SCAN_LIMIT = 64 * 1024 * 1024
_SKOPS_MEDIA = "application/vnd.mlopskit.skops+zip"  # the store's skops codec (serialize)
ModelKind = Literal["object", "file", "directory"]


class PackageVersionWarning(UserWarning):
    """The runtime's package versions differ from those a model was registered with.

    ``diff`` maps each differing package to ``(registered, installed)``
    (``installed`` is None when the package is missing).
    """

    def __init__(self, message: str, diff: dict[str, tuple[str | None, str | None]]) -> None:
        super().__init__(message)
        self.diff = diff


class ModelVersion(NumberedVersion, BaseModel):
    """One immutable version of a registered model.

    Attributes:
        name, number: ``name/number`` identifies it (see :attr:`uri`).
        digest: the digest of the stored model (object, file or directory tree).
        model: the stored model's reference.
        kind: ``object`` (a Python object stored with a codec), ``file`` or ``directory``.
        filename: the registered file's or directory's name (``model.onnx``): ``load``
            gives the local copy this name, so loaders that dispatch on the suffix work.
        signature: the input/output schema, if given or inferred from ``input_example``.
        requirements: distribution → version captured from ``importlib.metadata``.
        python_version: ``major.minor.micro`` of the registering interpreter.
        run_id: the run that produced it; inputs: what it was made from (lineage).
        tags: the version's tags (current ones when read through the registry).
    """

    model_config = ConfigDict(frozen=True)

    schema_version: int = 1
    name: str
    number: int
    digest: str
    model: ArtifactRef
    kind: ModelKind
    filename: str | None = None
    signature: ModelSignature | None = None
    input_example: ArtifactRef | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    requirements: dict[str, str] = Field(default_factory=dict)
    python_version: str = ""
    run_id: str | None = None
    inputs: list[Endpoint] = Field(default_factory=list)
    message: str = ""
    created_at: datetime
    author: str = ""
    host: str = ""

    node_kind: ClassVar[str] = "model"
    frame_columns: ClassVar[tuple[str, ...]] = (
        "number",
        "created_at",
        "author",
        "message",
        "kind",
        "filename",
        "digest",
        "run_id",
    )

    def _repr_html_(self) -> str:
        """The version as an HTML table (notebooks); every stored text is escaped."""
        import html

        rows: list[tuple[str, Any]] = [
            ("model", self.uri),
            ("kind", self.kind if self.filename is None else f"{self.kind} ({self.filename})"),
            ("digest", self.digest),
            ("created", f"{self.created_at:%Y-%m-%d %H:%M:%S %Z} by {self.author}".rstrip()),
            ("message", self.message),
            ("run", self.run_id or ""),
        ]
        rows += [(f"metrics.{k}", f"{v:.6g}") for k, v in sorted(self.metrics.items())]
        rows += [(f"tags.{k}", v) for k, v in sorted(self.tags.items())]
        if self.signature is not None:
            rows.append(("signature", str(self.signature)))
        rows += [("input", str(i)) for i in self.inputs]
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
            for k, v in rows
        )
        return f"<table class='mlopskit-model-version'>{body}</table>"


class _LoggedModel(BaseModel):
    """The fields of a package manifest (``mk.log_model``) a version is registered from.

    Read back from the store, so untrusted: validated here, the rest ignored.
    """

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    run_id: str
    ref: ArtifactRef = Field(alias="model")
    format: Literal["skops", "npy", "onnx", "pickle"]
    signature: ModelSignature | None = None
    input_example: ArtifactRef | None = None
    requirements: dict[str, str] = Field(default_factory=dict)

    @property
    def kind(self) -> ModelKind:
        """An ONNX payload registers as a file (loaded as a path), the rest as objects."""
        return "file" if self.format == "onnx" else "object"

    @property
    def filename(self) -> str | None:
        """``model.onnx`` for an ONNX payload (loaders dispatch on the suffix)."""
        return "model.onnx" if self.format == "onnx" else None


class GateOutcome(BaseModel):
    """One gate a promotion ran: its name, verdict, and the run that recorded it."""

    model_config = ConfigDict(frozen=True)

    gate: str
    passed: bool
    run_id: str | None = None


class RegistryEvent(BaseModel):
    """One entry of a model's audit log (``gates``: the gates a promotion passed)."""

    model_config = ConfigDict(frozen=True)

    time: datetime
    action: Literal["register", "set_alias", "rollback", "delete_alias", "promote", "export"]
    name: str
    alias: str | None = None
    from_version: int | None = None
    to_version: int | None = None
    user: str = ""
    host: str = ""
    message: str = ""
    gates: list[GateOutcome] = Field(default_factory=list)
    #: An ``export``: the deployment target, where it was written, the package's digest.
    target: str | None = None
    path: str | None = None
    package: str | None = None


# -- names and URIs ------------------------------------------------------------------------


def _check_name(name: str) -> str:
    return check_name(name, "model")


def _check_alias(alias: str) -> str:
    if (
        not isinstance(alias, str)
        or not _ALIAS.match(alias)
        or alias == "latest"
        or len(alias) > MAX_NAME_BYTES
    ):
        raise InvalidNameError(
            f"invalid alias {alias!r}: use letters, digits, '_' and '-', starting with a "
            f"letter or '_', at most {MAX_NAME_BYTES} bytes; 'latest' is reserved (it always "
            "means the highest version)",
            found=alias,
        )
    return alias


def parse_model_uri(uri: str) -> tuple[str, int | str]:
    """``"clf@champion"`` → ``("clf", "champion")``; ``"clf/3"`` → ``("clf", 3)``;
    ``"clf"`` and ``"clf@latest"`` → ``("clf", "latest")``. A ``models:/`` prefix is allowed.
    """
    text = uri[len("models:/") :] if uri.startswith("models:/") else uri
    if "@" in text:
        name, _, alias = text.partition("@")
        return _check_name(name), alias if alias == "latest" else _check_alias(alias)
    if "/" in text:
        name, _, number = text.partition("/")
        if not number.isdigit():
            raise InvalidNameError(
                f"invalid model URI {uri!r}: expected 'name/<number>', 'name@<alias>' or 'name'",
                found=uri,
            )
        return _check_name(name), int(number)
    return _check_name(text), "latest"


# -- requirements --------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _distributions() -> dict[str, list[str]]:
    return dict(importlib.metadata.packages_distributions())


def installed_version(dist: str) -> str | None:
    """The installed version of distribution ``dist``, or None if it is not installed."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def pin_requirements(modules: Iterable[str]) -> dict[str, str]:
    """Distribution → installed version for the top-level packages of ``modules`` (the
    pins a model version or a deployment package records)."""
    dists = _distributions()
    out: dict[str, str] = {}
    for top in sorted({m.split(".")[0] for m in modules if m}):
        for dist in dists.get(top, []):
            version = installed_version(dist)
            if version is not None:
                out[dist] = version
    return out


def _pickle_modules(data: bytes) -> set[str]:
    """Module names a pickle stream refers to (GLOBAL / STACK_GLOBAL operands)."""
    modules: set[str] = set()
    strings: list[str] = []
    try:
        for op, arg, _ in pickletools.genops(data):
            if op.name == "GLOBAL" and isinstance(arg, str):
                modules.add(arg.split(" ")[0])
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                modules.add(strings[-2])
            elif isinstance(arg, str):
                strings.append(arg)
    except (ValueError, TypeError):  # not a plain pickle stream: keep what was found
        pass
    return modules


# -- the registry --------------------------------------------------------------------------


class Registry(NumberedArea):
    """The model registry of one store (``mk.registry`` uses the current workspace's)."""

    area = "models"
    noun = "model"
    restore_call = "mk.registry.restore_version"
    log_name = "mlopskit.registry"

    def _parse_uri(self, uri: str) -> tuple[str, int | str]:
        return parse_model_uri(uri)

    # -- reading ------------------------------------------------------------------------

    def _no_alias(self, name: str, alias: str) -> NotFoundError:
        """NotFoundError for ``name@alias``: the model, or else the alias, does not exist."""
        if not self._numbers(name):
            return self._missing(name)
        hint = did_you_mean(alias, self.aliases(name), noun="aliases")
        return NotFoundError(f"model {name!r} has no alias {alias!r}{hint}", name=name, alias=alias)

    def _record(self, ref: ArtifactRef, refname: str = "a model version") -> ModelVersion:
        return read_record_as(self.store, ModelVersion, ref, refname)

    def _version(self, name: str, number: int) -> ModelVersion:
        refname = f"models/{name}/v/{number}"
        try:
            return read_version(self.store, ModelVersion, refname, name=name, number=number)
        except NotFoundError:
            numbers = self._numbers(name)
            if not numbers:
                raise self._missing(name) from None
            raise NotFoundError(
                f"model {name!r} has no version {number}; versions: "
                + ", ".join(map(str, numbers)),
                name=name,
                version=number,
            ) from None

    def _with_tags(self, mv: ModelVersion) -> ModelVersion:
        rec = self.store.refs.record(f"models/{mv.name}/vtags/{mv.number}")
        if rec is None or rec.target is None:
            return mv
        tags = self._tags_at(rec.target, f"models/{mv.name}/vtags/{mv.number}")
        return mv.model_copy(update={"tags": tags})

    def _tags_at(self, ref: ArtifactRef, refname: str) -> dict[str, str]:
        """The tags record ``refname`` points to (IntegrityError naming it if damaged)."""
        tags = self.store.read_record(ref).get("tags")
        if not isinstance(tags, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in tags.items()
        ):
            raise IntegrityError(
                f"record {refname!r} ({ref.digest}) is damaged: expected a 'tags' mapping of "
                "strings. Restore it from a backup or delete the ref.",
                path=refname,
                digest=ref.digest,
            )
        return dict(tags)

    def get(self, uri: str | ModelVersion) -> ModelVersion:
        """The version ``uri`` names: ``"name@alias"``, ``"name/3"``, ``"name@latest"``, ``"name"``.

        Raises:
            NotFoundError: no such model, version or alias.
        """
        if isinstance(uri, ModelVersion):
            return self._with_tags(uri)
        name, selector = parse_model_uri(uri)
        if isinstance(selector, int):
            # one listing of the name's refs finds a deletion marker (reading the marker's
            # own ref log costs two LISTs on S3 when it does not exist, the common case)
            _, deleted = self._state(name)
            if selector in deleted:
                raise self._deleted_error(name, selector, deleted[selector])
            return self._with_tags(self._version(name, selector))
        if selector == "latest":
            number = self._latest_alive(name, *self._state(name))
            return self._with_tags(self._version(name, number))
        try:
            ref = self.store.refs.get(f"models/{name}/aliases/{selector}")
        except NotFoundError:
            raise self._no_alias(name, selector) from None
        return self._with_tags(self._record(ref, f"models/{name}/aliases/{selector}"))

    def versions(self, name: str) -> VersionList[ModelVersion]:
        """Every version of ``name``, oldest first: a list of :class:`ModelVersion`
        (``.to_frame()`` for a table)."""
        numbers, deleted = self._state(name)
        if not numbers:
            raise self._missing(name)
        return VersionList(
            self._with_tags(self._version(name, n)) for n in numbers if n not in deleted
        )

    # -- deleting -------------------------------------------------------------------------

    def delete_version(
        self, name: str, version: int | str | None = None, *, reason: str = ""
    ) -> RefRecord | None:
        """Delete a model version (soft): it leaves ``latest`` and ``versions()``, and
        ``get``/``load`` of it raise NotFoundError saying when and by whom.

        Refused (InvalidInputError naming the alias) while an alias points at it: move
        or delete the alias first. ``name`` may be a URI (``"clf/3"``). The deletion is
        recorded with who, when and ``reason``; nothing is removed from the store
        (packages and lineage built from the version keep working). Returns the record
        written, or None if the version was deleted already.
        """
        name, number = self._number(name, version)
        holding = sorted(a for a, n in self.aliases(name).items() if n == number)
        if holding:
            raise InvalidInputError(
                f"model {name!r} version {number} is what alias "
                + ", ".join(f"{name}@{a}" for a in holding)
                + " points to; move it (mk.registry.set_alias) or delete it "
                "(mk.registry.delete_alias) first, then delete the version",
                name=name,
                alias=holding[0],
            )
        return self._mark(name, number, reason)

    def restore_version(
        self, name: str, version: int | str | None = None, *, reason: str = ""
    ) -> RefRecord | None:
        """Undo :meth:`delete_version`; returns the record written, or None if the version
        was not deleted."""
        return self._unmark(*self._number(name, version), reason)

    def deleted_versions(self, name: str) -> dict[int, RefRecord]:
        """Version number → deletion record (who, when, ``message``: why) of ``name``."""
        return self._deleted_map(name)

    def aliases(self, name: str) -> dict[str, int]:
        """Alias → version number for every alias of ``name`` (NotFoundError: no such model)."""
        prefix = f"models/{_check_name(name)}/aliases/"
        if not self._numbers(name):
            raise self._missing(name)
        out = {}
        for ref_name in self.store.refs.list(prefix.rstrip("/")):
            rec = self.store.refs.record(ref_name)
            if rec is not None and rec.target is not None:
                out[ref_name[len(prefix) :]] = self._alias_version(rec, ref_name)
        return out

    def _alias_version(self, rec: RefRecord, refname: str) -> int:
        """The version number an alias record points to (its ``meta``, else its target)."""
        version = rec.meta.get("version")
        if isinstance(version, int) and not isinstance(version, bool) and version > 0:
            return version
        assert rec.target is not None
        return self._record(rec.target, refname).number

    # -- registering ----------------------------------------------------------------------

    def _store_model(self, model: Any) -> tuple[ArtifactRef, ModelKind, set[str]]:
        store = self.store
        if isinstance(model, os.PathLike):
            path = Path(model)
            if path.is_file():
                return store.put_file(path), "file", set()
            if path.is_dir():
                return store.put_dir(path), "directory", set()
            raise NotFoundError(f"no such model file or directory: {path}", path=str(path))
        ref = store.put(model)
        modules = {type(model).__module__}
        if is_pickle_media_type(ref.media_type) and ref.size <= _SCAN_LIMIT:
            modules |= _pickle_modules(store.get_bytes(ref))
        elif ref.media_type is not None and "parquet" in ref.media_type:
            modules |= {"pandas", "pyarrow"}
        elif ref.media_type == "application/x-npy":
            modules.add("numpy")
        return ref, "object", modules

    def register(
        self,
        name: str,
        model: Any,
        *,
        run: Any = None,
        signature: ModelSignature | None = None,
        metrics: Mapping[str, float] | None = None,
        tags: Mapping[str, str] | None = None,
        input_example: Any = None,
        inputs: Iterable[Any] = (),
        requirements: Mapping[str, str] | None = None,
        message: str = "",
    ) -> ModelVersion:
        """Store ``model`` as the next version of ``name``.

        Args:
            name: the model's name (letters, digits, ``._+=,-``).
            model: any Python object (stored with a codec; pickles are marked as
                written by this store), or a ``pathlib.Path`` to a saved model file or
                directory.
            run: the run that produced it (an object with ``run_id``, or an id);
                default: the active run.
            signature: the input/output schema; inferred from ``input_example`` when
                omitted.
            metrics: recorded with the version.
            tags: recorded with the version (they can change later).
            input_example: example input, stored with the version.
            inputs: what the model was made from (dataset versions, store refs),
                for lineage; objects loaded from the store are found automatically.
            requirements: distributions → versions to record, on top of those
                captured from the modules the model's pickle refers to.
            message: why, for the history.
        """
        _check_name(name)
        store = self.store
        if isinstance(model, str) and model.startswith("runs:/"):
            logged = self._logged_model(model)
            ref, kind, filename = logged.ref, logged.kind, logged.filename
            example_ref = logged.input_example
            if input_example is not None:
                example_ref = store.put(input_example)
            signature = signature or logged.signature
            if signature is None and input_example is not None:
                signature = infer_signature(input_example)
            reqs = dict(logged.requirements)
            if run is not None and _run_id(run) != logged.run_id:
                raise InvalidInputError(
                    f"run={_run_id(run)!r} contradicts {model!r}, logged by run "
                    f"{logged.run_id!r}; leave run= out",
                    expected=logged.run_id,
                    found=_run_id(run),
                )
            run = logged.run_id
            model = None  # lineage: the run, recorded with the edge
        else:
            ref, kind, modules = self._store_model(model)
            filename = None if kind == "object" else (Path(model).absolute().name or None)
            example_ref = None
            if input_example is not None:
                example_ref = store.put(input_example)
                if signature is None:
                    signature = infer_signature(input_example)
            reqs = pin_requirements(modules)
        reqs.update(requirements or {})
        run_id = _run_id(run)
        lineage = _endpoints(model, inputs)
        user, host = _context.whoami()
        links = [ref] + ([example_ref] if example_ref is not None else [])
        mv: ModelVersion | None = None

        def make(number: int) -> ArtifactRef:
            nonlocal mv
            mv = ModelVersion(
                name=name,
                number=number,
                digest=ref.digest,
                model=ref,
                kind=kind,
                filename=filename,
                signature=signature,
                input_example=example_ref,
                metrics={k: float(v) for k, v in (metrics or {}).items()},
                tags={str(k): str(v) for k, v in (tags or {}).items()},
                requirements=reqs,
                python_version=platform.python_version(),
                run_id=run_id,
                inputs=lineage,
                message=message,
                created_at=datetime.now(timezone.utc),
                author=user,
                host=host,
            )
            return store.put_record(mv.model_dump(mode="json"), links=links)

        store.refs.claim_next(
            f"models/{name}/v",
            make,
            message=message or f"register {name}",
            meta={"op": "register", "digest": ref.digest},
        )
        assert mv is not None
        number = mv.number
        log.info("model_registered", name=name, number=number, digest=ref.digest)
        record_edge(
            store,
            LineageEdge(
                relation="registered",
                inputs={f"input{i}": e for i, e in enumerate(lineage)},
                output=mv.__mlopskit_node__,
                run_id=run_id,
            ),
        )
        return mv

    def _logged_model(self, uri: str) -> _LoggedModel:
        """The model ``mk.log_model`` logged at ``runs:/<run_id>/<artifact>``, checked."""
        from mlopskit.tracking import tracker_for

        run_id, _, artifact = uri[len("runs:/") :].partition("/")
        if not run_id or not artifact:
            raise InvalidInputError(
                f"invalid model URI {uri!r}: expected 'runs:/<run_id>/<artifact name>'",
                expected="runs:/<run_id>/<artifact name>",
                found=uri,
            )
        workspace = _context.current_workspace_uri() if self._fixed is None else self.store.url
        run = tracker_for(workspace).get_run(run_id)  # NotFoundError naming the run
        artifacts, tags = run.artifacts, run.tags
        models = sorted(
            k for k, r in artifacts.items() if self._model_at(k, r, tags, scan=False) is not None
        )
        ref = artifacts.get(artifact)
        autologged = tags.get("mlopskit.autolog.model")
        if ref is None and autologged is not None and autologged.startswith(f"{artifact}."):
            artifact, ref = autologged, artifacts.get(autologged)  # runs:/<id>/model, as MLflow
        if ref is None:
            raise NotFoundError(
                f"run {run_id} has no artifact {artifact!r}; its logged models: {models}, "
                f"all its artifacts: {sorted(artifacts)}",
                name=artifact,
                run_id=run_id,
                expected=models,
            )
        payload = self._model_at(artifact, ref, tags)
        if payload is None:
            raise InvalidInputError(
                f"artifact {artifact!r} of run {run_id} is not a model logged with "
                f"mk.log_model (or mk.autolog); its logged models: {models}. Log the model "
                "with mk.log_model(model, name), or register the object itself",
                expected=models,
                found=artifact,
                run_id=run_id,
            )
        where = f"artifact {artifact!r} of run {run_id} ({ref.digest})"
        try:
            logged = _LoggedModel.model_validate({**payload, "run_id": run_id})
        except ValueError as exc:
            raise IntegrityError(
                f"{where} is a damaged model package: {type(exc).__name__}. Log the model again",
                digest=ref.digest,
                path=where,
            ) from None
        if not self.store.exists(logged.ref):
            raise IntegrityError(
                f"{where} names a model payload {logged.ref.digest} that is not in "
                f"{self.store.url}; log the model again",
                digest=logged.ref.digest,
                path=where,
            )
        if logged.format == "skops" and not self.store.get_bytes(logged.ref).startswith(b"PK"):
            raise InvalidInputError(
                f"{where} is named like a skops model but is not a skops archive",
                expected="a skops (zip) archive",
                found=artifact,
                run_id=run_id,
            )
        return logged

    def _model_at(
        self, name: str, ref: ArtifactRef, tags: Mapping[str, str], *, scan: bool = True
    ) -> dict[str, Any] | None:
        """What registering run artifact ``name`` registers, or None if it is no model:
        a package manifest (``mk.log_model``), or a model ``mk.autolog`` logged (a
        ``.skops`` archive, or the pickled estimator its ``mlopskit.autolog.model`` tag
        names). ``scan=False`` skips reading a pickle for the modules it needs."""
        if ref.kind == "record":
            payload = self.store.read_record(ref)
            return payload if payload.get("kind") == "mlopskit.package" else None
        if ref.kind == "blob" and name.endswith(".skops"):
            skops = {**ref.model_dump(mode="json"), "media_type": _SKOPS_MEDIA}
            modules = ("sklearn", "skops", "numpy", "scipy")
            return {"model": skops, "format": "skops", "requirements": pin_requirements(modules)}
        if tags.get("mlopskit.autolog.model") == name and is_pickle_media_type(ref.media_type):
            modules_ = {"cloudpickle"}
            if scan and ref.size <= _SCAN_LIMIT:
                modules_ |= _pickle_modules(self.store.get_bytes(ref))
            return {
                "model": ref.model_dump(mode="json"),
                "format": "pickle",
                "requirements": pin_requirements(modules_),
            }
        return None

    # -- loading --------------------------------------------------------------------------

    def load(
        self,
        uri: str | ModelVersion,
        *,
        trusted: bool | None = None,
        dest: str | os.PathLike[str] | None = None,
    ) -> Any:
        """Load a model version: the object, or a local path for files and directories.

        Every byte is verified against the digest. A pickle-based model loads only
        if this store wrote it or ``trusted=True``. When installed package versions
        (or Python's) differ from the recorded ones, a :class:`PackageVersionWarning`
        lists the differences.

        Raises:
            UntrustedObjectError: a pickle not written by this store, without ``trusted=True``.
            IntegrityError: the stored bytes do not match the digest.
        """
        mv = self.get(uri)
        _warn_on_drift(mv)
        store = self.store
        run_id = _run_id(None)
        if run_id is not None:  # the run consumed this model version
            record_use(store, run_id, {mv.name: mv.__mlopskit_node__})
        if mv.kind == "object":
            obj = store.get(mv.model, trusted=trusted)
            remember(obj, mv.__mlopskit_node__)
            return obj
        return materialize(
            store,
            mv.model,
            mv.kind,
            mv.filename or mv.name,
            record=f"models/{mv.name}/v/{mv.number}",
            area="models",
            dest=dest,
        )

    # -- aliases --------------------------------------------------------------------------

    def _alias_ref(self, name: str, alias: str) -> str:
        return f"models/{_check_name(name)}/aliases/{_check_alias(alias)}"

    def set_alias(
        self, name: str, alias: str, version: int | str, *, message: str = ""
    ) -> ModelVersion:
        """Point ``name@alias`` at ``version`` (a number or a URI such as ``"name/3"``).

        Every move is recorded in the alias's history (who, when, why, from → to).
        """
        refname = self._alias_ref(name, alias)
        target = self.get(f"{name}/{version}" if isinstance(version, int) else version)
        if target.name != name:
            raise InvalidInputError(f"version {target.uri} is not a version of {name!r}")
        ref = self.store.refs.get(f"models/{name}/v/{target.number}")
        self.store.refs.set(
            refname,
            ref,
            message=message or f"{name}@{alias} → {target.number}",
            meta={"version": target.number, "op": "set"},
        )
        log.info("alias_set", name=name, alias=alias, version=target.number)
        return target

    def promote(
        self,
        name: str,
        version: int | str,
        *,
        to: str = "champion",
        require: Iterable[Callable[[ModelVersion], Any]] = (),
        message: str = "",
    ) -> ModelVersion:
        """Point ``name@to`` at ``version`` only if every gate in ``require`` passes.

        Each gate is called with the candidate :class:`ModelVersion` and must return an
        object with a bool ``passed`` (and ``run_id``, the run that recorded it): the
        ``mk.checks`` gates return a ``CheckResult``. The gates' outcomes are written
        into the alias's history with the move (``history(name, to)[-1].gates``).

        The move is a compare-and-swap against the alias as it was *before* the gates
        ran: if another promotion (in any process) moved it meanwhile, this one raises
        :class:`RefConflictError` and changes nothing, so concurrent promotions leave one
        consistent history in which every move's ``from`` is the previous move's ``to``.

        Raises:
            PromotionRefusedError: a gate failed (every gate still ran; nothing moved).
            RefConflictError: the alias moved while the gates ran.
            InvalidInputError: a gate is not callable or returned no bool ``passed``.
            NotFoundError: no such model or version.
        """
        refname = self._alias_ref(name, to)
        gates = list(require)
        for gate in gates:
            if not callable(gate):
                raise InvalidInputError(
                    f"require= takes callables (gates), found {type(gate).__name__}",
                    expected="callable(ModelVersion) -> result with .passed",
                    found=type(gate).__name__,
                )
        target = self.get(f"{name}/{version}" if isinstance(version, int) else version)
        if target.name != name:
            raise InvalidInputError(f"version {target.uri} is not a version of {name!r}")
        before = self.store.refs.record(refname)
        outcomes: list[GateOutcome] = []
        results: list[Any] = []
        for gate in gates:
            result = gate(target)
            passed = getattr(result, "passed", None)
            if not isinstance(passed, bool):
                raise InvalidInputError(
                    f"gate {_gate_name(gate, result)!r} returned {type(result).__name__}, "
                    "which has no bool .passed; a gate must return its verdict",
                    found=type(result).__name__,
                )
            run_id = getattr(result, "run_id", None)
            outcomes.append(
                GateOutcome(
                    gate=_gate_name(gate, result),
                    passed=passed,
                    run_id=run_id if isinstance(run_id, str) else None,
                )
            )
            results.append(result)
        failed = [o.gate for o in outcomes if not o.passed]
        if failed:
            raise PromotionRefusedError(
                f"{name}@{to} stays where it is: {target.uri} failed gate(s) {failed}",
                name=name,
                alias=to,
                version=target.number,
                outcomes=outcomes,
                results=results,
            )
        ref = self.store.refs.get(f"models/{name}/v/{target.number}")
        self.store.refs.set(
            refname,
            ref,
            expected=before,
            message=message
            or f"promote {name}@{to} → {target.number}"
            + (f" (gates: {', '.join(o.gate for o in outcomes)})" if outcomes else ""),
            meta={
                "version": target.number,
                "op": "promote",
                "from": (
                    self._alias_version(before, refname)
                    if before is not None and before.target is not None
                    else None
                ),
                "gates": [o.model_dump(mode="json") for o in outcomes],
            },
        )
        log.info("alias_promoted", name=name, alias=to, version=target.number, gates=len(gates))
        return self._with_tags(target)

    def delete_alias(self, name: str, alias: str, *, message: str = "") -> None:
        """Remove ``name@alias`` (its history is kept)."""
        refname = self._alias_ref(name, alias)
        try:
            self.store.refs.delete(refname, message=message or f"delete {name}@{alias}")
        except NotFoundError:
            raise self._no_alias(name, alias) from None

    def _stack(self, refname: str) -> list[ArtifactRef]:
        """The alias's targets as a stack: sets push, rollbacks pop, deletes clear."""
        stack: list[ArtifactRef] = []
        for rec in self.store.refs.history(refname):
            if rec.target is None:
                stack = []
            elif rec.meta.get("op") == "rollback":
                if stack:
                    stack.pop()
                if not stack or stack[-1].digest != rec.target.digest:
                    stack.append(rec.target)
            else:
                stack.append(rec.target)
        return stack

    def rollback(self, name: str, alias: str, *, message: str = "") -> ModelVersion:
        """Move ``name@alias`` back to the version it pointed to before its last move.

        Rollbacks undo moves in order (like an undo stack): rolling back twice
        restores the target from two moves ago. The move is a compare-and-swap: if
        the alias moved meanwhile, :class:`RefConflictError` is raised and nothing
        changes.

        Raises:
            NotFoundError: the alias does not exist.
            InvalidInputError: there is no earlier target to return to.
        """
        refname = self._alias_ref(name, alias)
        rec = self.store.refs.record(refname)
        if rec is None or rec.target is None:
            raise self._no_alias(name, alias)
        stack = self._stack(refname)
        if len(stack) < 2:
            raise InvalidInputError(
                f"{name}@{alias} has no earlier target to roll back to", alias=alias
            )
        current, previous = stack[-1], stack[-2]
        target = self._record(previous)
        # CAS on the record read above, not on its target: a move away and back to the
        # same version (or a set to the version it already has) since then must be
        # refused, or this rollback would undo the wrong move.
        self.store.refs.set(
            refname,
            previous,
            expected=rec,
            message=message or f"rollback {name}@{alias} → {target.number}",
            meta={
                "version": target.number,
                "op": "rollback",
                "from": self._record(current).number,
            },
        )
        log.info("alias_rollback", name=name, alias=alias, version=target.number)
        return self._with_tags(target)

    def history(self, name: str, alias: str | None = None) -> list[RegistryEvent]:
        """The audit log of ``name`` (or of one alias): registrations and alias moves,
        oldest first, each with who, when, why, and from → to."""
        _check_name(name)
        refs = self.store.refs
        events: list[RegistryEvent] = []
        if alias is None:
            for n in self._numbers(name):
                rec = refs.record(f"models/{name}/v/{n}")
                if rec is not None:
                    events.append(_event(rec, "register", name, None, None, n))
            aliases = [
                a.rsplit("/", 1)[1]
                for a in refs.list(f"models/{name}/aliases", include_deleted=True)
            ]
        else:
            aliases = [_check_alias(alias)]
        for a in aliases:
            previous: int | None = None
            try:
                history = refs.history(f"models/{name}/aliases/{a}")
            except NotFoundError:
                continue
            for rec in history:
                if rec.target is None:
                    events.append(_event(rec, "delete_alias", name, a, previous, None))
                    previous = None
                    continue
                op = rec.meta.get("op")
                action = op if op in ("rollback", "promote") else "set_alias"
                version = self._alias_version(rec, f"models/{name}/aliases/{a}")
                events.append(_event(rec, action, name, a, previous, version))
                previous = version
        if alias is None:
            events.extend(self._exports(name))
        if not events:
            self._check_workspace()  # nothing: is there a workspace at all?
        return sorted(events, key=lambda e: e.time)

    # -- exports --------------------------------------------------------------------------

    def record_export(
        self,
        name: str,
        version: int,
        *,
        target: str,
        path: str,
        package: ArtifactRef,
        details: Mapping[str, str] | None = None,
    ) -> RegistryEvent:
        """Append "version ``version`` of ``name`` was exported" to the model's history.

        One durable write (a record of the ref log ``models/<name>/exports``, pointing
        at the stored ``package``); :meth:`history` lists it as an ``export`` event with
        who and when. Deployment adapters call this for a package made from a version.

        Raises:
            NotFoundError: no version ``version`` of ``name``, or ``package`` is not stored.
        """
        mv = self._version(_check_name(name), version)
        refname = f"models/{mv.name}/exports"
        meta = {
            **{str(k): str(v) for k, v in (details or {}).items()},
            "op": "export",
            "version": mv.number,
            "target": str(target),
            "path": str(path),
            "package": package.digest,
        }
        rec = self.store.refs.set(
            refname,
            package,
            message=f"export {mv.name}/{mv.number} → {target} at {path}",
            meta=meta,
        )
        return _export_event(rec, mv.name)

    def _exports(self, name: str) -> list[RegistryEvent]:
        try:
            history = self.store.refs.history(f"models/{name}/exports")
        except NotFoundError:
            return []
        return [_export_event(rec, name) for rec in history if rec.target is not None]

    # -- tags -----------------------------------------------------------------------------

    def _update_tags(
        self, refname: str, base: dict[str, str], change: dict[str, str | None]
    ) -> None:
        refs = self.store.refs
        while True:
            rec = refs.record(refname)
            current = (
                self._tags_at(rec.target, refname)
                if rec is not None and rec.target is not None
                else dict(base)
            )
            for k, v in change.items():
                if v is None:
                    current.pop(k, None)
                else:
                    current[k] = v
            new = self.store.put_record({"tags": current})
            try:
                refs.set(
                    refname,
                    new,
                    expected=None if rec is None or rec.target is None else rec.target,
                    message="tags",
                )
                return
            except RefConflictError:
                continue

    def set_tag(self, name: str, key: str, value: str, *, version: int | None = None) -> None:
        """Set a tag on the model (``version=None``) or on one version."""
        self._tags_change(name, version, {str(key): str(value)})

    def delete_tag(self, name: str, key: str, *, version: int | None = None) -> None:
        """Remove a tag from the model or one version (no error if absent)."""
        self._tags_change(name, version, {str(key): None})

    def _tags_change(self, name: str, version: int | None, change: dict[str, str | None]) -> None:
        if version is None:
            if not self._numbers(name):
                raise self._missing(name)
            self._update_tags(f"models/{name}/tags", {}, change)
        else:
            mv = self.get(f"{name}/{version}")
            self._update_tags(f"models/{name}/vtags/{version}", mv.tags, change)

    def tags(self, name: str) -> dict[str, str]:
        """The model-level tags of ``name``."""
        _check_name(name)
        rec = self.store.refs.record(f"models/{name}/tags")
        if rec is None or rec.target is None:
            self._check_workspace()  # nothing: is there a workspace at all?
            return {}
        return self._tags_at(rec.target, f"models/{name}/tags")


def _event(
    rec: RefRecord,
    action: str,
    name: str,
    alias: str | None,
    previous: int | None,
    version: int | None,
) -> RegistryEvent:
    return RegistryEvent(
        time=rec.time,
        action=action,  # type: ignore[arg-type]
        name=name,
        alias=alias,
        from_version=previous,
        to_version=version,
        user=rec.user,
        host=rec.host,
        message=rec.message,
        gates=_gate_outcomes(rec),
    )


def _export_event(rec: RefRecord, name: str) -> RegistryEvent:
    """An export read back from the ref log (IntegrityError naming the ref if damaged)."""
    meta = rec.meta
    try:
        fields = {k: meta[k] for k in ("target", "path", "package")}
        version = meta["version"]
        if (
            not all(isinstance(v, str) for v in fields.values())
            or meta.get("op") != "export"
            or not isinstance(version, int)
            or isinstance(version, bool)
        ):
            raise TypeError("not an export")
        return RegistryEvent(
            time=rec.time,
            action="export",
            name=name,
            to_version=version,
            user=rec.user,
            host=rec.host,
            message=rec.message,
            **fields,
        )
    except (KeyError, TypeError, ValueError):
        raise IntegrityError(
            f"the export recorded in ref {rec.name!r} (seq {rec.seq}) is damaged: expected "
            "op, version, target, path and package. Restore the ref's log from a backup.",
            path=rec.name,
        ) from None


def _gate_outcomes(rec: RefRecord) -> list[GateOutcome]:
    """The gates recorded with an alias move (IntegrityError naming the ref if damaged)."""
    raw = rec.meta.get("gates")
    if raw is None:
        return []
    try:
        if not isinstance(raw, list):
            raise TypeError("not a list")
        return [GateOutcome.model_validate(item) for item in raw]
    except (TypeError, ValueError):
        raise IntegrityError(
            f"the gates recorded in ref {rec.name!r} (seq {rec.seq}) are damaged: expected a "
            "list of {gate, passed, run_id}. Restore the ref's log from a backup.",
            path=rec.name,
        ) from None


def _gate_name(gate: Any, result: Any) -> str:
    for value in (getattr(gate, "name", None), getattr(result, "check", None)):
        if isinstance(value, str) and value:
            return value
    return getattr(gate, "__name__", type(gate).__name__)


def _run_id(run: Any) -> str | None:
    if run is None:
        run = _context.active_run()
    if run is None:
        return None
    return str(run) if isinstance(run, str) else str(run.run_id)


def _endpoints(model: Any, inputs: Iterable[Any]) -> list[Endpoint]:
    out: list[Endpoint] = []
    known = recall(model)
    if known is not None:
        out.append(known)
    for item in inputs:
        node = getattr(item, "__mlopskit_node__", None)
        if isinstance(node, Endpoint):
            out.append(node)
        elif isinstance(item, ArtifactRef):
            out.append(Endpoint(digest=item.digest, kind="artifact", label=item.digest[:15]))
        elif isinstance(item, str) and ":" in item:
            out.append(Endpoint(digest=item, kind="artifact", label=item[:15]))
        else:
            found = recall(item)
            if found is None:
                raise InvalidInputError(
                    "inputs= takes dataset versions, model versions, store refs, digests, "
                    f"or objects loaded from the store; found a {type(item).__qualname__}"
                )
            out.append(found)
    return out


def _warn_on_drift(mv: ModelVersion) -> None:
    diff: dict[str, tuple[str | None, str | None]] = {}
    for dist, recorded in mv.requirements.items():
        installed = installed_version(dist)
        if installed != recorded:
            diff[dist] = (recorded, installed)
    running = platform.python_version()
    if mv.python_version and mv.python_version.rsplit(".", 1)[0] != running.rsplit(".", 1)[0]:
        diff["python"] = (mv.python_version, running)
    if not diff:
        return
    lines = "; ".join(
        f"{dist} {rec} → {inst if inst is not None else 'not installed'}"
        for dist, (rec, inst) in sorted(diff.items())
    )
    warnings.warn(
        PackageVersionWarning(
            f"model {mv.uri} was registered with other package versions than this "
            f"runtime has: {lines}. It may load or predict differently.",
            diff,
        ),
        stacklevel=3,
    )
