"""What a check reads: DataFrames, dataset versions, profiles and model versions.

One place turns each accepted input into what a check works on, with a clear error
for anything else (never a guess).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlopskit.errors import InvalidInputError
from mlopskit.versioning import DatasetVersion, Endpoint
from mlopskit.workspace import current_workspace

if TYPE_CHECKING:
    import pandas as pd

    from mlopskit.drift import ReferenceProfile
    from mlopskit.registry import ModelVersion

__all__ = ["Data", "dataset_frame", "model_version", "reference_of"]


@dataclass(frozen=True)
class Data:
    """A frame and where it came from (``version`` is None for an in-memory frame)."""

    frame: pd.DataFrame | None
    profile: ReferenceProfile | None
    version: DatasetVersion | None
    label: str

    @property
    def endpoint(self) -> Endpoint | None:
        """The lineage node of the dataset version (None for in-memory data)."""
        return self.version.__mlopskit_node__ if self.version is not None else None


def _is_frame(value: Any) -> bool:
    import pandas as pd

    return isinstance(value, pd.DataFrame)


def dataset_frame(data: Any, what: str) -> Data:
    """``data`` (a DataFrame, a dataset URI such as ``"holdout/3"``, or a
    :class:`DatasetVersion`) as a :class:`Data` holding a DataFrame."""
    if _is_frame(data):
        return Data(frame=data, profile=None, version=None, label="dataframe")
    if isinstance(data, (str, DatasetVersion)):
        datasets = current_workspace().datasets
        dv = datasets.get(data) if isinstance(data, str) else data
        frame = datasets.load(dv.uri)
        if not _is_frame(frame):
            raise InvalidInputError(
                f"{what}: dataset {dv.uri} is a {dv.kind}, not a table; checks read "
                "DataFrames (commit the data as a pandas DataFrame)",
                expected="dataframe",
                found=dv.kind,
                name=dv.name,
            )
        return Data(frame=frame, profile=None, version=dv, label=dv.uri)
    raise InvalidInputError(
        f"{what}: expected a pandas DataFrame, a dataset URI ('name/3') or a DatasetVersion, "
        f"found {type(data).__name__}",
        expected="DataFrame | str | DatasetVersion",
        found=type(data).__name__,
    )


def reference_of(reference: Any, current: Data) -> Data:
    """The reference to judge ``current`` against.

    ``reference`` may be a DataFrame, a dataset URI or version, a
    :class:`~mlopskit.drift.ReferenceProfile`, or a path to a profile's JSON file.
    None means the version before ``current`` (which must then be a dataset version).
    """
    from mlopskit.drift import ReferenceProfile

    if reference is None:
        dv = current.version
        if dv is None or dv.number < 2:
            raise InvalidInputError(
                "no reference to check against: "
                + (
                    "in-memory data has no previous version"
                    if dv is None
                    else f"{dv.uri} is the first version"
                )
                + "; pass reference= (a DataFrame, a dataset URI or a drift profile)",
                expected="a reference",
                found=None,
            )
        return dataset_frame(f"{dv.name}/{dv.number - 1}", "reference")
    if isinstance(reference, ReferenceProfile):
        return Data(frame=None, profile=reference, version=None, label="profile")
    if isinstance(reference, os.PathLike) or (
        isinstance(reference, str) and reference.endswith(".json")
    ):
        path = os.fspath(reference)
        try:
            with open(path, "rb") as fh:
                text = fh.read()
        except OSError as exc:
            raise InvalidInputError(
                f"reference profile {path!r} cannot be read: {exc}", path=path
            ) from None
        try:
            prof = ReferenceProfile.from_json(text)
        except ValueError as exc:
            raise InvalidInputError(
                f"reference profile {path!r} is not a drift profile's JSON "
                f"(mk.drift.profile(df).to_json()): {str(exc).splitlines()[0]}",
                path=path,
            ) from None
        return Data(frame=None, profile=prof, version=None, label=os.path.basename(path))
    return dataset_frame(reference, "reference")


def model_version(model: Any, what: str) -> ModelVersion:
    """The registered :class:`ModelVersion` ``model`` names (a URI or a version)."""
    from mlopskit.registry import ModelVersion

    if isinstance(model, ModelVersion):
        return model
    if isinstance(model, str):
        return current_workspace().registry.get(model)
    raise InvalidInputError(
        f"{what}: expected a registry URI ('churn/3', 'churn@champion') or a ModelVersion, "
        f"found {type(model).__name__}",
        expected="str | ModelVersion",
        found=type(model).__name__,
    )
