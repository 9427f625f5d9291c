"""Registered files keep their names; model records read back from a shared store are
untrusted (names checked where read, damaged records named in an IntegrityError)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlopskit.errors import IntegrityError, InvalidNameError
from mlopskit.registry import Registry
from mlopskit.store import ArtifactStore


@pytest.fixture
def reg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    """A registry on a local store, with the read cache under tmp_path."""
    monkeypatch.setenv("MLOPSKIT_CACHE_DIR", str(tmp_path / "cache"))
    return Registry(ArtifactStore(tmp_path / "store"))


class TestFileNames:
    @pytest.mark.parametrize("filename", ["model.onnx", "model.joblib", "weights.pt"])
    def test_a_registered_file_loads_back_with_its_name(
        self, reg: Registry, tmp_path: Path, filename: str
    ) -> None:
        """ONNX, joblib and torch loaders dispatch on the suffix: the loaded copy keeps
        the registered file's name, in the cache and in a dest directory."""
        f = tmp_path / filename
        f.write_bytes(b"weights")
        mv = reg.register("clf", f)
        assert mv.filename == filename
        cached = reg.load("clf")
        assert cached.name == filename
        assert cached.read_bytes() == b"weights"
        out = tmp_path / "out"
        out.mkdir()
        assert reg.load("clf", dest=out) == out / filename

    def test_a_registered_directory_keeps_its_name(self, reg: Registry, tmp_path: Path) -> None:
        """A saved-model directory loads back as a directory of the same name."""
        d = tmp_path / "saved_model"
        d.mkdir()
        (d / "config.json").write_text("{}")
        reg.register("tf", d)
        loaded = reg.load("tf")
        assert loaded.name == "saved_model"
        assert (loaded / "config.json").read_text() == "{}"

    def test_a_planted_file_name_writes_nothing(self, reg: Registry, tmp_path: Path) -> None:
        """A model record naming '../../x' raises IntegrityError naming the record;
        nothing is written outside (or inside) the cache."""
        f = tmp_path / "model.onnx"
        f.write_bytes(b"weights")
        mv = reg.register("clf", f)
        store = reg.store
        payload = {**mv.model_dump(mode="json"), "name": "evil", "filename": "../../escaped"}
        store.refs.set("models/evil/v/1", store.put_record(payload), expected=None)
        with pytest.raises(IntegrityError) as info:
            reg.load("evil")
        assert info.value.path == "models/evil/v/1"
        assert not (tmp_path / "escaped").exists()
        assert not (tmp_path / "cache" / "escaped").exists()


class TestDamagedRecords:
    def test_a_damaged_version_record_names_itself(self, reg: Registry) -> None:
        """A version ref pointing at a record of the wrong shape is an IntegrityError
        naming the ref, from get, load and versions."""
        store = reg.store
        store.refs.set("models/broken/v/1", store.put_record({"kind": 3}), expected=None)
        for call in (reg.get, reg.load, reg.versions):
            with pytest.raises(IntegrityError) as info:
                call("broken")
            assert info.value.path == "models/broken/v/1"

    def test_a_damaged_tags_record_names_itself(self, reg: Registry) -> None:
        """A tags ref pointing at something that is not a tags record is an IntegrityError."""
        reg.register("clf", {"w": 1})
        store = reg.store
        store.refs.set("models/clf/tags", store.put_record({"tags": [1, 2]}), expected=None)
        with pytest.raises(IntegrityError, match="models/clf/tags"):
            reg.tags("clf")

    def test_a_record_filed_under_another_number(self, reg: Registry) -> None:
        """A version record copied under another number is refused, not served."""
        reg.register("clf", {"w": 1})
        ref = reg.store.refs.get("models/clf/v/1")
        reg.store.refs.set("models/clf/v/2", ref, expected=None)
        with pytest.raises(IntegrityError, match="models/clf/v/2"):
            reg.get("clf/2")

    def test_a_planted_alias_version_is_read_from_its_target(self, reg: Registry) -> None:
        """An alias record whose 'version' metadata is not a number is not believed:
        aliases() and history() report the version its target record names."""
        reg.register("clf", {"w": 1})
        reg.register("clf", {"w": 2})
        target = reg.store.refs.get("models/clf/v/2")
        reg.store.refs.set("models/clf/aliases/champion", target, meta={"version": "two"})
        assert reg.aliases("clf") == {"champion": 2}
        assert [e.to_version for e in reg.history("clf", "champion")] == [2]


class TestLongNames:
    def test_a_name_over_255_bytes_is_an_invalid_name(self, reg: Registry) -> None:
        """Model names longer than a file name may be are refused before anything is stored."""
        with pytest.raises(InvalidNameError, match="255"):
            reg.register("m" * 256, {"w": 1})
        with pytest.raises(InvalidNameError):
            reg.get("m" * 256)
        assert reg.names() == []
        reg.register("m", {"w": 1})
        with pytest.raises(InvalidNameError, match="255"):
            reg.set_alias("m", "a" * 256, 1)
