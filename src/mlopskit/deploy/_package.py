"""ModelPackage: everything needed to serve a model, as one content-addressed manifest.

A package is a canonical-JSON record in the store — so it has a digest, every byte
is verified on read, and the same model packaged twice is one object — holding:

- the model payload's ref and format (see ``_formats``: skops, npy, onnx, pickle),
- the signature (inputs/outputs with nullable dtypes) and an input example,
- requirements pinned from ``importlib.metadata`` and the Python version,
- the registry version it came from (``source``), for lineage,
- optionally a drift reference profile of the training data (``reference``).

Refs (create-only or CAS, never a shared file)::

    deploy/packages/<name>/<package digest>   keeps each package (and its payload) through gc
    deploy/of-model/<name>/<number>           the package made for model version <number>

Packaging a registered version records a lineage edge model version → package
(``relation="derived"``, the package's endpoint labelled ``package:<name>``).
Adapters to serving engines (issue 9) are thin writers over a package: its
``manifest``, :meth:`ModelPackage.payload_bytes` and :meth:`ModelPackage.input_example`.
"""

from __future__ import annotations

import platform
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mlopskit._log import get_logger
from mlopskit.deploy._formats import load_payload, store_payload
from mlopskit.errors import IntegrityError, InvalidInputError, NotFoundError, RefConflictError
from mlopskit.registry import (
    ModelSignature,
    PackageVersionWarning,
    Registry,
    infer_signature,
    installed_version,
    pin_requirements,
)
from mlopskit.store import ArtifactRef, current_store
from mlopskit.versioning import Endpoint, LineageEdge, record_edge

if TYPE_CHECKING:
    from mlopskit.drift import ReferenceProfile
    from mlopskit.registry import ModelVersion
    from mlopskit.store import ArtifactStore

__all__ = ["ModelPackage", "PackageManifest", "PackageSource"]

log = get_logger("mlopskit.deploy")

PACKAGE_KIND = "mlopskit.package"


class PackageSource(BaseModel):
    """The registry version a package was made from."""

    model_config = ConfigDict(frozen=True)

    name: str
    number: int
    digest: str
    run_id: str | None = None


class PackageManifest(BaseModel):
    """The stored record of a package (its digest is the package's digest)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = 1
    kind: Literal["mlopskit.package"] = "mlopskit.package"
    name: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9._+=,-]*$")  # read back: untrusted
    model: ArtifactRef
    format: Literal["skops", "npy", "onnx", "pickle"]
    flavor: str
    methods: list[str] = Field(default_factory=list)
    signature: ModelSignature | None = None
    input_example: ArtifactRef | None = None
    requirements: dict[str, str] = Field(default_factory=dict)
    python_version: str
    source: PackageSource | None = None
    reference: ArtifactRef | None = None


def _methods(model: Any) -> list[str]:
    found = [
        m for m in ("predict", "predict_proba", "transform") if callable(getattr(model, m, None))
    ]
    if not found and callable(model):
        found = ["__call__"]
    return found


class ModelPackage:
    """A stored, verifiable model package.

    Make one with :meth:`from_model` (a model object) or :meth:`from_registry` (a
    registered version); read one back with :meth:`load`.

    Attributes:
        manifest: the stored record (:class:`PackageManifest`).
        digest: the package's digest (``sha256:…``): its identity.
        store: the store it lives in.
    """

    def __init__(self, manifest: PackageManifest, digest: str, store: ArtifactStore) -> None:
        self.manifest = manifest
        self.digest = digest
        self.store = store

    # -- identity and fields ------------------------------------------------------------

    @property
    def name(self) -> str:
        """The model's name."""
        return self.manifest.name

    @property
    def signature(self) -> ModelSignature | None:
        """The input/output signature, if known."""
        return self.manifest.signature

    @property
    def format(self) -> str:
        """The payload format: ``skops``, ``npy``, ``onnx`` or ``pickle``."""
        return self.manifest.format

    @property
    def requirements(self) -> dict[str, str]:
        """Distribution → version pinned when the package was made."""
        return dict(self.manifest.requirements)

    @property
    def python_version(self) -> str:
        """``major.minor.micro`` of the packaging interpreter."""
        return self.manifest.python_version

    @property
    def version(self) -> str | None:
        """The registry version number (as a string) it was made from, or None."""
        src = self.manifest.source
        return None if src is None else str(src.number)

    @property
    def uri(self) -> str:
        """``package:<digest>``: what :meth:`load` and ``Predictor`` accept."""
        return f"package:{self.digest}"

    @property
    def __mlopskit_node__(self) -> Endpoint:
        return Endpoint(digest=self.digest, kind="package", label=self.name)

    def __repr__(self) -> str:
        src = (
            f", from {self.manifest.source.name}/{self.manifest.source.number}"
            if self.manifest.source
            else ""
        )
        return f"ModelPackage({self.name!r}, {self.format}, {self.digest[:19]}…{src})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ModelPackage) and other.digest == self.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    # -- making -------------------------------------------------------------------------

    @classmethod
    def from_model(
        cls,
        model: Any,
        *,
        name: str,
        signature: ModelSignature | None = None,
        input_example: Any = None,
        reference: Any = None,
        format: str | None = None,
        requirements: dict[str, str] | None = None,
        store: ArtifactStore | None = None,
        _source: PackageSource | None = None,
    ) -> ModelPackage:
        """Package a model object.

        Args:
            model: a scikit-learn estimator (stored with skops), a numpy weight array
                (``.npy``), ONNX bytes / a ``.onnx`` path / ``ModelProto``, or any object
                with ``predict`` or a plain callable (cloudpickle, under the trust rule).
            name: the model's name.
            signature: the input/output schema; inferred from ``input_example`` if omitted.
            input_example: a few input rows, stored with the package.
            reference: training data (or a ``ReferenceProfile``) to monitor drift against;
                profiled with ``mk.drift.profile`` and stored with the package.
            format: force a payload format (``skops``, ``npy``, ``onnx``, ``pickle``).
            requirements: extra distribution pins on top of those captured.
            store: where to store it (default: the current workspace's store).

        Raises:
            InvalidInputError: the model cannot be packaged (says why).
            MissingExtraError: skops (``pymlopskit[sklearn]``) or onnxruntime is missing.
        """
        store = store if store is not None else current_store()
        _check_name(name)
        payload = store_payload(store, model, format=format)
        example_ref = None
        if input_example is not None:
            example_ref = store.put(input_example)
            if signature is None:
                signature = infer_signature(input_example)
            if signature.outputs is None and payload.format != "onnx":
                signature = _with_outputs(signature, model, input_example)
        reference_ref = _store_reference(store, reference)
        reqs = pin_requirements(payload.modules)
        reqs.update(requirements or {})
        manifest = PackageManifest(
            name=name,
            model=payload.ref,
            format=payload.format,
            flavor=payload.flavor,
            methods=_methods(model) if payload.format != "onnx" else ["predict", "predict_proba"],
            signature=signature,
            input_example=example_ref,
            requirements=dict(sorted(reqs.items())),
            python_version=platform.python_version(),
            source=_source,
            reference=reference_ref,
        )
        links = [r for r in (payload.ref, example_ref, reference_ref) if r is not None]
        ref = store.put_record(manifest.model_dump(mode="json"), links=links)
        pkg = cls(manifest, ref.digest, store)
        _create_ref(store, _package_ref(name, ref.digest), ref)
        log.info("package_stored", name=name, digest=ref.digest, format=payload.format)
        return pkg

    @classmethod
    def from_registry(
        cls,
        uri: str | ModelVersion,
        *,
        reference: Any = None,
        trusted: bool | None = None,
        store: ArtifactStore | None = None,
    ) -> ModelPackage:
        """Package the registered model ``uri`` (``"name@alias"``, ``"name/3"``).

        The package made for a version is remembered (``deploy/of-model/<name>/<n>``),
        so packaging it again — and every ``Predictor("name@alias")`` — reuses it
        instead of converting the model again. Passing ``reference`` stores a new
        package with that drift reference and makes it the version's package.

        Raises:
            NotFoundError: no such model, version or alias.
            UntrustedObjectError: the registered model is a pickle this store did not
                write, and ``trusted`` is not True.
        """
        store = store if store is not None else current_store()
        registry = Registry(store)
        mv = registry.get(uri)
        of_model = f"deploy/of-model/{mv.name}/{mv.number}"
        if reference is None:
            rec = store.refs.record(of_model)
            if rec is not None and rec.target is not None:
                pkg = cls._read(rec.target, store)
                if pkg.manifest.source is not None and pkg.manifest.source.digest == mv.digest:
                    return pkg
        model = registry.load(mv, trusted=trusted)
        if mv.kind == "file":
            model = _registered_file(mv.uri, Path(model))
        elif not (callable(model) or hasattr(model, "predict")) and not _is_array(model):
            raise InvalidInputError(
                f"model {mv.uri} loads as a {type(model).__qualname__}, which has no predict "
                "method; register the model object itself (or a .onnx file)",
                found=type(model).__qualname__,
            )
        example = store.get(mv.input_example) if mv.input_example is not None else None
        pkg = cls.from_model(
            model,
            name=mv.name,
            signature=mv.signature,
            input_example=example,
            reference=reference,
            format="onnx" if mv.kind == "file" else None,
            requirements=mv.requirements,
            store=store,
            _source=PackageSource(
                name=mv.name, number=mv.number, digest=mv.digest, run_id=mv.run_id
            ),
        )
        store.refs.set(
            of_model,
            store.refs.get(_package_ref(mv.name, pkg.digest)),
            message=f"package of {mv.uri}",
        )
        record_edge(
            store,
            LineageEdge(
                relation="derived",
                inputs={"model": mv.__mlopskit_node__},
                output=pkg.__mlopskit_node__,
                function="mlopskit.deploy.ModelPackage.from_registry",
                run_id=mv.run_id,
            ),
        )
        return pkg

    @classmethod
    def load(cls, digest: str, *, store: ArtifactStore | None = None) -> ModelPackage:
        """The package stored under ``digest`` (or ``package:<digest>``), verified.

        Raises:
            NotFoundError: no such object. IntegrityError: the object is not a package.
        """
        store = store if store is not None else current_store()
        digest = digest[len("package:") :] if digest.startswith("package:") else digest
        return cls._read(digest, store)

    @classmethod
    def _read(cls, ref: ArtifactRef | str, store: ArtifactStore) -> ModelPackage:
        digest = ref.digest if isinstance(ref, ArtifactRef) else ref
        if not store.exists(digest):
            raise NotFoundError(f"no package {digest} in {store.url}", digest=digest)
        payload = store.read_record(digest)
        if not isinstance(payload, dict) or payload.get("kind") != PACKAGE_KIND:
            raise IntegrityError(
                f"object {digest} is not a model package", digest=digest, found="not a package"
            )
        try:
            manifest = PackageManifest.model_validate(payload)
        except ValueError as exc:
            raise IntegrityError(
                f"package {digest} is damaged: {exc.__class__.__name__}", digest=digest
            ) from None
        return cls(manifest, digest, store)

    @classmethod
    def list(cls, name: str, *, store: ArtifactStore | None = None) -> list[ModelPackage]:
        """Every package stored for ``name``."""
        store = store if store is not None else current_store()
        _check_name(name)
        return [
            cls._read(store.refs.get(r), store) for r in store.refs.list(f"deploy/packages/{name}")
        ]

    # -- using --------------------------------------------------------------------------

    def load_model(self, *, trusted: bool | None = None, warn: bool = True) -> Any:
        """The model object, verified by digest, under its format's trust rule.

        When installed package versions (or Python's) differ from the recorded ones,
        a :class:`~mlopskit.registry.PackageVersionWarning` lists the differences
        (``warn=False`` to skip).

        Raises:
            UntrustedObjectError: see the format table in ``_formats``.
        """
        if warn:
            diff = self.check_environment()
            if diff:
                lines = "; ".join(
                    f"{d} {rec} → {inst if inst is not None else 'not installed'}"
                    for d, (rec, inst) in sorted(diff.items())
                )
                warnings.warn(
                    PackageVersionWarning(
                        f"package {self.name} ({self.digest[:19]}…) was made with other "
                        f"versions than this runtime has: {lines}. It may load or predict "
                        "differently.",
                        diff,
                    ),
                    stacklevel=2,
                )
        return load_payload(self.store, self.manifest.model, self.format, trusted=trusted)

    def payload_bytes(self) -> bytes:
        """The model payload's bytes, verified (for adapters that copy it)."""
        return self.store.get_bytes(self.manifest.model)

    def input_example(self) -> Any:
        """The stored input example (a DataFrame for tabular models), or None."""
        ref = self.manifest.input_example
        return None if ref is None else self.store.get(ref)

    def reference(self) -> ReferenceProfile | None:
        """The drift reference profile stored with the package, or None."""
        ref = self.manifest.reference
        if ref is None:
            return None
        from mlopskit.drift import ReferenceProfile

        return ReferenceProfile.model_validate(self.store.read_record(ref))

    def check_environment(self) -> dict[str, tuple[str | None, str | None]]:
        """Distribution → (recorded, installed) for every difference with this interpreter.

        ``installed`` is None for a missing distribution; a different Python
        ``major.minor`` appears as ``"python"``. Empty when everything matches.
        """
        diff: dict[str, tuple[str | None, str | None]] = {}
        for dist, recorded in self.manifest.requirements.items():
            installed = installed_version(dist)
            if installed != recorded:
                diff[dist] = (recorded, installed)
        running = platform.python_version()
        recorded_py = self.manifest.python_version
        if recorded_py and recorded_py.rsplit(".", 1)[0] != running.rsplit(".", 1)[0]:
            diff["python"] = (recorded_py, running)
        return diff

    def to(self, target: str, path: str | Path, **options: Any) -> Path:
        """Export to a serving engine's format (``"mlflow"``, ``"sagemaker"``, ``"kserve"``,
        ``"k8s"``, ``"docker"``, ``"mlserver"``, ``"bentoml"``); returns what was written.

        See docs/deploy-targets.md. Raises InvalidInputError for an unknown target.
        """
        from mlopskit.deploy._targets import export

        return export(self, target, path, **options)


def _with_outputs(signature: ModelSignature, model: Any, example: Any) -> ModelSignature:
    """The signature completed with the outputs ``model`` gives on ``example``."""
    from mlopskit.deploy._codec import conform, to_frame

    try:
        frame = conform(to_frame(example, signature=signature), signature)
        if hasattr(model, "predict"):
            out = model.predict(frame)
        elif _is_array(model):
            out = frame.to_numpy(dtype="float64") @ model
        else:
            out = model(frame)
        outputs = infer_signature(out).inputs
    except Exception as exc:  # a model that cannot predict its own example: keep inputs only
        log.info("package_outputs_not_inferred", error=type(exc).__name__)
        return signature
    return signature.model_copy(update={"outputs": outputs})


def _registered_file(uri: str, path: Path) -> bytes:
    """A model registered as a file: its bytes, if they are an ONNX model onnxruntime runs."""
    from mlopskit.deploy._formats import OnnxModel

    data = path.read_bytes()
    try:
        OnnxModel(data)
    except ImportError:
        raise
    except Exception as exc:  # onnxruntime raises its own error types for a bad file
        raise InvalidInputError(
            f"model {uri} is a registered file that is not an ONNX model onnxruntime can run "
            f"({type(exc).__name__}); register the model object itself, or an .onnx file",
            found="file",
        ) from None
    return data


def _is_array(model: Any) -> bool:
    import numpy as np

    return isinstance(model, np.ndarray)


def _check_name(name: str) -> None:
    from mlopskit.registry import parse_model_uri

    if not isinstance(name, str) or "@" in name or "/" in name:
        raise InvalidInputError(
            f"invalid model name {name!r}: use letters, digits and '._+=,-'", found=name
        )
    parse_model_uri(name)  # the registry's name rule


def _store_reference(store: ArtifactStore, reference: Any) -> ArtifactRef | None:
    if reference is None:
        return None
    from mlopskit.drift import ReferenceProfile, profile

    prof = reference if isinstance(reference, ReferenceProfile) else profile(reference)
    return store.put_record(prof.model_dump(mode="json"))


def _create_ref(store: ArtifactStore, name: str, ref: ArtifactRef) -> None:
    if name in store.refs:
        return
    try:
        store.refs.set(name, ref, expected=None, message="package")
    except RefConflictError:
        pass  # the same package, stored by someone else meanwhile


def _package_ref(name: str, digest: str) -> str:
    return f"deploy/packages/{name}/{digest.replace(':', '-')}"
