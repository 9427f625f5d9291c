"""Fuzzing the versioning and registry parsers: planted dataset and model records,
signatures, lineage edges and URIs give a value or a typed mlopskit error (never a raw
exception, a hang, or a file written outside its target).

The budget comes from the hypothesis profile (tests/conftest.py): ``ci`` by default,
``HYPOTHESIS_PROFILE=fuzz`` (``nox -s fuzz``) for a long run.
"""

from __future__ import annotations

import tempfile
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mlopskit as mk
from mlopskit.errors import IntegrityError, InvalidInputError, NotFoundError
from mlopskit.registry import ModelVersion, Registry, parse_model_uri
from mlopskit.store import ArtifactStore
from mlopskit.versioning import Datasets, DatasetVersion, edges_from, edges_into

pytestmark = pytest.mark.fuzz

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)

EXPECTED = (IntegrityError, InvalidInputError, NotFoundError)


def _seed(store: ArtifactStore, root: Path) -> tuple[DatasetVersion, DatasetVersion, ModelVersion]:
    """A file dataset, an array dataset and a file model with an input example."""
    (root / "model.onnx").write_bytes(b"weights")
    (root / "data.csv").write_text("a\n1\n")
    return (
        Datasets(store).commit("source", root / "data.csv"),
        Datasets(store).commit("frame", np.arange(4)),
        Registry(store).register("source", root / "model.onnx", input_example=np.zeros((2, 3))),
    )


# Valid records the strategies mutate (made in memory at import; nothing on disk stays).
with tempfile.TemporaryDirectory() as _tmp:
    DATASET, DATAFRAME, MODEL = _seed(
        ArtifactStore(f"memory://fuzz-templates-{uuid.uuid4().hex}"), Path(_tmp)
    )

_STORES: list[ArtifactStore] = []
_ROOTS: list[Path] = []


@pytest.fixture(scope="module", autouse=True)
def _store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The store records are planted in: local, under tmp_path, holding the same content
    as the templates (so their digests resolve). Local, not memory://: listing a prefix
    there costs what is under it, while a memory:// listing scans every key."""
    root = tmp_path_factory.mktemp("fuzz")
    planted = ArtifactStore(root / "store")
    _seed(planted, root)
    _STORES.append(planted)
    _ROOTS.append(root)
    yield
    _STORES.clear()
    _ROOTS.clear()


def store() -> ArtifactStore:
    """The planting store of the running module."""
    return _STORES[-1]


def mutated(valid: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A valid record with some fields replaced by arbitrary JSON, dropped, or added."""
    keys = sorted(valid)
    change = st.tuples(st.sampled_from(keys), st.one_of(st.just(KeyError), json_values))

    def apply(changes: list[tuple[str, Any]], extra: dict[str, Any]) -> dict[str, Any]:
        out = dict(valid)
        for key, value in changes:
            if value is KeyError:
                out.pop(key, None)
            else:
                out[key] = value
        out.update(extra)
        return out

    return st.builds(
        apply,
        st.lists(change, min_size=1, max_size=3),
        st.dictionaries(st.text(max_size=8), json_values, max_size=2),
    )


def plant(refname: str, payload: Any) -> None:
    store().refs.set(refname, store().put_record(payload), expected=None)


def outcome(call: Any) -> Any:
    """What ``call()`` returns, or the IntegrityError it raises."""
    try:
        return call()
    except IntegrityError as exc:
        return exc


def fresh() -> str:
    return f"n{uuid.uuid4().hex[:12]}"


class TestDatasetRecords:
    @given(
        payload=mutated(DATASET.model_dump(mode="json"))
        | mutated(DATAFRAME.model_dump(mode="json"))
    )
    def test_a_planted_dataset_record_is_a_version_or_an_integrity_error(
        self, payload: dict[str, Any]
    ) -> None:
        """get() of any planted record returns a version filed under its own name and
        number, or raises IntegrityError naming the record."""
        name = fresh()
        payload = {**payload, "name": payload.get("name", name)}
        plant(f"datasets/{name}/v/1", payload)
        v = outcome(lambda: Datasets(store()).get(name))
        if isinstance(v, IntegrityError):
            assert v.path == f"datasets/{name}/v/1"
        else:
            assert isinstance(v, DatasetVersion)
            assert (v.name, v.number) == (name, 1)

    @given(filename=st.text(max_size=300) | json_values)
    def test_a_planted_file_name_never_escapes_dest(self, filename: Any) -> None:
        """Whatever file name a record holds, load(dest=d) writes inside d or raises
        IntegrityError before writing anything."""
        name = fresh()
        payload = DATASET.model_dump(mode="json")
        payload.update(name=name, metadata={"filename": filename})
        plant(f"datasets/{name}/v/1", payload)
        dest = Path(tempfile.mkdtemp(dir=_ROOTS[-1]))
        try:
            out = Datasets(store()).load(name, dest=dest)
        except IntegrityError:
            assert list(dest.iterdir()) == []
        else:
            assert out.parent == dest
            assert out.read_text() == "a\n1\n"


class TestModelRecords:
    @given(payload=mutated(MODEL.model_dump(mode="json")))
    def test_a_planted_model_record_is_a_version_or_an_integrity_error(
        self, payload: dict[str, Any]
    ) -> None:
        """Registry.get() of any planted record (signatures included) returns a version
        under its own name and number, or raises IntegrityError naming the record."""
        name = fresh()
        payload = {**payload, "name": payload.get("name", name)}
        plant(f"models/{name}/v/1", payload)
        mv = outcome(lambda: Registry(store()).get(f"{name}/1"))
        if isinstance(mv, IntegrityError):
            assert mv.path == f"models/{name}/v/1"
        else:
            assert isinstance(mv, ModelVersion)
            assert (mv.name, mv.number) == (name, 1)

    @given(signature=json_values | mutated(MODEL.model_dump(mode="json")["signature"]))
    def test_a_planted_signature(self, signature: Any) -> None:
        """A damaged signature makes the whole record an IntegrityError, never a raw
        ValidationError."""
        name = fresh()
        payload = {**MODEL.model_dump(mode="json"), "name": name, "signature": signature}
        plant(f"models/{name}/v/1", payload)
        mv = outcome(lambda: Registry(store()).get(name))
        if isinstance(mv, IntegrityError):
            assert mv.path == f"models/{name}/v/1"
        else:
            assert mv.signature is None or mv.signature.inputs is not None

    @given(st.text(max_size=300))
    def test_model_uris_parse_or_are_invalid_names(self, uri: str) -> None:
        """parse_model_uri of any string is (name, selector) or an InvalidInputError."""
        try:
            name, selector = parse_model_uri(uri)
        except InvalidInputError:
            return
        assert isinstance(name, str) and "/" not in name and "@" not in name
        assert isinstance(selector, (int, str))

    @given(st.text(max_size=300))
    def test_any_uri_given_to_get_is_a_version_or_a_typed_error(self, uri: str) -> None:
        """Registry.get and Datasets.get of any string give a version or a typed error."""
        for call in (Registry(store()).get, Datasets(store()).get):
            try:
                with warnings.catch_warnings():
                    # "name@3" is the deprecated dataset spelling: a warning, not an error
                    warnings.simplefilter("ignore", DeprecationWarning)
                    call(uri)
            except EXPECTED:
                pass


class TestLineageEdges:
    @given(payload=json_values | mutated({"relation": "derived", "inputs": {}, "output": None}))
    def test_a_planted_edge_is_an_edge_or_an_integrity_error(self, payload: Any) -> None:
        """edges_into/edges_from and mk.lineage over a planted edge give edges or an
        IntegrityError naming the edge's ref."""
        digest = f"sha256:{uuid.uuid4().hex * 2}"
        seg = digest.replace(":", "-")
        ref = store().put_record(payload if isinstance(payload, dict) else {"x": payload})
        store().refs.set(f"lineage/out/{seg}/e", ref, expected=None)
        store().refs.set(f"lineage/in/{seg}/e", ref, expected=None)
        for read in (edges_into, edges_from):
            edges = outcome(lambda: read(store(), digest))  # noqa: B023 - called at once
            if isinstance(edges, IntegrityError):
                assert edges.path is not None and edges.path.startswith("lineage/")
        try:
            mk.lineage(digest, store=store(), depth=2)
        except IntegrityError:
            pass
