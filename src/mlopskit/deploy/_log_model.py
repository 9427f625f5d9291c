"""``mk.log_model``: a model logged to a run as a deployment package.

The model is stored as a :class:`~mlopskit.deploy.ModelPackage` (skops for
scikit-learn, ``.npy`` for a weight array, ONNX, cloudpickle under the store's trust
rule; see ``_formats``) with its flavor, the signature inferred from the input example
and pinned requirements. The run records the package's manifest as the artifact
``name``; ``mk.registry.register(name, "runs:/<run_id>/<name>")`` then registers the
stored payload as a model version without copying a byte (the version's digest is the
payload's), and records the run → model lineage.

This module lives in ``deploy`` because packages do: tracking sits below deploy and may
not import it, so ``Run`` has no ``log_model`` method; pass ``run=`` to log to a run
that is not the active one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlopskit._log import get_logger
from mlopskit.deploy._package import ModelPackage
from mlopskit.errors import InvalidInputError, NoActiveRunError
from mlopskit.registry import ModelSignature
from mlopskit.store import ArtifactRef
from mlopskit.tracking import Run, active_run

__all__ = ["LoggedModel", "log_model"]

log = get_logger("mlopskit.deploy")


@dataclass(frozen=True)
class LoggedModel:
    """A model logged to a run.

    Attributes:
        run_id: the run it was logged to.
        name: the artifact's (and the model's) name.
        package: the stored :class:`~mlopskit.deploy.ModelPackage`.
        artifact: the run artifact: the package manifest's ref.
    """

    run_id: str
    name: str
    package: ModelPackage
    artifact: ArtifactRef

    @property
    def uri(self) -> str:
        """``runs:/<run_id>/<name>``: what ``mk.registry.register`` accepts."""
        return f"runs:/{self.run_id}/{self.name}"

    @property
    def model(self) -> ArtifactRef:
        """The stored model payload's ref (its digest is a registered version's digest)."""
        return self.package.manifest.model


def log_model(
    model: Any,
    name: str,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    *,
    run: Run | None = None,
    format: str | None = None,
    reference: Any = None,
) -> LoggedModel:
    """Store ``model`` as a deployment package and log it as artifact ``name`` of the run.

    Args:
        model: a scikit-learn estimator (skops), a numpy weight array (``.npy``), ONNX
            bytes / a ``.onnx`` path, or any object with ``predict`` or a callable
            (cloudpickle: loads only from this store or with ``trusted=True``).
        name: the artifact's name, also the package's model name (letters, digits,
            ``._+=,-``).
        signature: the input/output schema; inferred from ``input_example`` if omitted.
        input_example: a few input rows, stored with the package.
        run: the run to log to (default: the active run).
        format: force a payload format (``skops``, ``npy``, ``onnx``, ``pickle``).
        reference: training data (or a drift ``ReferenceProfile``) stored with the package.

    Returns:
        A :class:`LoggedModel`; ``.uri`` (``runs:/<run_id>/<name>``) registers it.

    Raises:
        NoActiveRunError: no ``run`` given and none active.
        InvalidInputError: the model cannot be packaged, or ``name`` is not a valid name.
        MissingExtraError: skops (``pymlopskit[sklearn]``) or onnxruntime is missing.
    """
    target = run if run is not None else active_run()
    if target is None:
        raise NoActiveRunError(
            "log_model needs a run: call it inside `with mk.start_run(...):` or pass run=…"
        )
    if not isinstance(target, Run):
        raise InvalidInputError(
            f"run= takes a Run, found {type(target).__name__}",
            expected="Run",
            found=type(target).__name__,
        )
    store = target.tracker.store
    pkg = ModelPackage.from_model(
        model,
        name=name,
        signature=signature,
        input_example=input_example,
        reference=reference,
        format=format,
        store=store,
    )
    manifest = pkg.manifest
    links = [r for r in (manifest.model, manifest.input_example, manifest.reference) if r]
    # The same record from_model stored (canonical JSON): its ref, without a second write.
    ref = store.put_record(manifest.model_dump(mode="json"), links=links)
    target.log_artifact(ref, name)
    log.info("model_logged", run_id=target.run_id, name=name, digest=manifest.model.digest)
    return LoggedModel(run_id=target.run_id, name=name, package=pkg, artifact=ref)
