"""The pydantic codec imports nothing a stored record names unless trusted or allowed;
bytes that do not decode are IntegrityErrors naming the object."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from mlopskit.errors import IntegrityError, UntrustedObjectError
from mlopskit.hashing import digest_bytes
from mlopskit.serialize import allow_pydantic_module, decode, encode
from mlopskit.store import ArtifactStore

PYDANTIC = "application/vnd.mlopskit.pydantic+json"


class Point(BaseModel):
    """A model of an already-imported module (this test module)."""

    x: int
    y: int


@pytest.fixture
def planted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """A module on sys.path whose import writes a marker file (a visible side effect)."""
    name = f"planted_{uuid.uuid4().hex}"
    marker = tmp_path / "imported.txt"
    (tmp_path / f"{name}.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('code ran')\n"
        "from pydantic import BaseModel\n"
        "class M(BaseModel):\n"
        "    a: int = 0\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name, marker
    sys.modules.pop(name, None)


def record(type_name: str, data: object) -> bytes:
    return json.dumps({"type": type_name, "data": data}).encode()


class TestPydanticImports:
    def test_an_untrusted_record_does_not_import_its_module(
        self, planted: tuple[str, Path], memory_store: ArtifactStore
    ) -> None:
        """A stored record naming a module that is not imported raises
        UntrustedObjectError and the module's top-level code never runs."""
        name, marker = planted
        ref = memory_store.put_bytes(record(f"{name}:M", {"a": 1}))
        with pytest.raises(UntrustedObjectError, match=name):
            memory_store.get(ref.digest)
        with pytest.raises(UntrustedObjectError):
            memory_store.get(ref.digest, trusted=False)
        with pytest.raises(UntrustedObjectError):
            decode(record(f"{name}:M", {"a": 1}), PYDANTIC)
        assert not marker.exists()
        assert name not in sys.modules

    def test_trusted_imports_the_module(
        self, planted: tuple[str, Path], memory_store: ArtifactStore
    ) -> None:
        """With trusted=True the module is imported and the model decoded."""
        name, marker = planted
        ref = memory_store.put_bytes(record(f"{name}:M", {"a": 4}))
        assert memory_store.get(ref.digest, trusted=True).a == 4
        assert marker.exists()

    def test_an_allowed_module_is_imported(self, planted: tuple[str, Path]) -> None:
        """allow_pydantic_module lets untrusted records name that module's models."""
        name, marker = planted
        allow_pydantic_module(name)
        assert decode(record(f"{name}:M", {"a": 2}), PYDANTIC).a == 2
        assert marker.exists()

    def test_models_of_imported_modules_round_trip(self, memory_store: ArtifactStore) -> None:
        """A model whose module is already imported loads without trusted=True."""
        ref = memory_store.put(Point(x=1, y=2))
        assert memory_store.get(ref) == Point(x=1, y=2)

    @pytest.mark.parametrize(
        "type_name",
        [
            "json:loads",  # a function, not a model
            "os:system",
            "builtins:dict",
            f"{__name__}:Point.__class__",
            f"{__name__}:Nope",
            "not a name:X",
            "nocolon",
            "",
        ],
    )
    def test_what_is_not_a_pydantic_model_is_refused(self, type_name: str) -> None:
        """A record naming something other than a pydantic model class is an IntegrityError."""
        with pytest.raises(IntegrityError):
            decode(record(type_name, {"x": 1, "y": 2}), PYDANTIC)

    def test_data_that_does_not_validate(self) -> None:
        """Data that does not validate against the named model is an IntegrityError."""
        with pytest.raises(IntegrityError):
            decode(record(f"{__name__}:Point", {"x": "one"}), PYDANTIC)


class TestDecodeErrors:
    @pytest.mark.parametrize(
        ("data", "media"),
        [
            (b"\x93NUMPY garbage", "application/x-npy"),
            (b"PAR1 not parquet", "application/vnd.apache.parquet"),
            (b"{not json", "application/json"),
            (b"\xff\xfe", "application/json"),
            (b"[1, 2]", PYDANTIC),
        ],
    )
    def test_undecodable_bytes_name_the_object(self, data: bytes, media: str) -> None:
        """Bytes that do not decode as their media type raise IntegrityError with the
        object's digest (or the given name), never a raw codec exception."""
        with pytest.raises(IntegrityError) as info:
            decode(data, media)
        assert info.value.digest == digest_bytes(data)
        assert digest_bytes(data) in str(info.value)
        with pytest.raises(IntegrityError, match="refs/x"):
            decode(data, media, name="refs/x")

    def test_through_the_store(self, memory_store: ArtifactStore) -> None:
        """store.get of damaged-but-verified bytes raises IntegrityError."""
        ref = memory_store.put_bytes(b"\x93NUMPY garbage")
        with pytest.raises(IntegrityError):
            memory_store.get(ref.digest)

    def test_good_bytes_still_decode(self) -> None:
        """The error path does not change what decodes."""
        enc = encode({"a": [1, 2]})
        assert decode(b"".join(bytes(c) for c in enc.chunks), enc.media_type) == {"a": [1, 2]}
