"""Folder datasets: diff lists the files added, removed and changed with their sizes
(DataFrame and CLI), and load(dest=...) materialises a version into a work tree without
losing local edits."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from mlopskit.errors import InvalidInputError
from mlopskit.store import ArtifactStore
from mlopskit.versioning import Datasets


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def two_versions(tmp_path: Path) -> tuple[Datasets, Path]:
    """images/1 and images/2: one file added, one removed, one changed (in a subfolder),
    the rest equal."""
    store = ArtifactStore(tmp_path / "store")
    ds = Datasets(store)
    v1 = _tree(
        tmp_path / "v1" / "images",
        {"a.txt": "A", "same/keep.txt": "K" * 10, "sub/b.txt": "B", "gone.txt": "old"},
    )
    ds.commit("images", v1)
    v2 = _tree(
        tmp_path / "v2" / "images",
        {"a.txt": "A", "same/keep.txt": "K" * 10, "sub/b.txt": "BBBB", "new/c.txt": "CC"},
    )
    ds.commit("images", v2)
    return ds, tmp_path


class TestDiff:
    def test_files_added_removed_and_changed_with_sizes(
        self, two_versions: tuple[Datasets, Path]
    ) -> None:
        """Only files that differ are listed, by path, with the size on each side."""
        ds, _ = two_versions
        diff = ds.diff("images/1", "images/2")
        assert [(f.path, f.change, f.size_a, f.size_b) for f in diff.files] == [
            ("gone.txt", "removed", 3, None),
            ("new/c.txt", "added", None, 2),
            ("sub/b.txt", "changed", 1, 4),
        ]
        assert not diff.empty
        frame = diff.files_frame()
        assert list(frame.columns) == ["path", "change", "size_a", "size_b", "delta"]
        assert frame["delta"].tolist() == [-3, 2, 3]
        assert pd.isna(frame.loc[0, "size_b"])

    def test_equal_versions_and_tables_have_no_file_changes(
        self, two_versions: tuple[Datasets, Path]
    ) -> None:
        """A version against itself lists nothing; DataFrame versions have no files."""
        ds, _ = two_versions
        assert ds.diff("images/2", "images/2").files == []
        assert ds.diff("images/2", "images/2").empty
        ds.commit("t", pd.DataFrame({"x": [1]}))
        ds.commit("t", pd.DataFrame({"x": [2]}))
        assert ds.diff("t/1", "t/2").files == []

    def test_single_file_versions(self, tmp_path: Path) -> None:
        """Two versions of a file dataset: the file, changed, by its committed name."""
        ds = Datasets(ArtifactStore(tmp_path / "store"))
        f = tmp_path / "data.csv"
        f.write_text("a\n1\n")
        ds.commit("csv", f)
        f.write_text("a\n1\n2\n")
        ds.commit("csv", f)
        (change,) = ds.diff("csv/1", "csv/2").files
        assert (change.path, change.change, change.size_a, change.size_b) == (
            "data.csv",
            "changed",
            4,
            6,
        )

    def test_cli_prints_the_files_and_json_holds_them(
        self, two_versions: tuple[Datasets, Path], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """'mlopskit datasets diff' shows a files summary and table; --json has files."""
        from mlopskit import _context
        from mlopskit.cli import cli

        _, root = two_versions
        monkeypatch.chdir(root)
        monkeypatch.setenv("MLOPSKIT_PROGRESS", "off")
        monkeypatch.setattr(_context, "_process_workspace", [None])
        ws = ["--workspace", str(root / "store")]
        out = CliRunner().invoke(cli, [*ws, "datasets", "diff", "images/1", "2"])
        assert out.exit_code == 0, out.output
        assert "files: +1 -1 ~1" in out.stdout
        line = next(x for x in out.stdout.splitlines() if x.startswith("sub/b.txt"))
        assert line.split()[1:] == ["changed", "1", "B", "4", "B"]
        data = json.loads(
            CliRunner().invoke(cli, [*ws, "datasets", "diff", "images/1", "2", "--json"]).stdout
        )
        assert [f["path"] for f in data["files"]] == ["gone.txt", "new/c.txt", "sub/b.txt"]


class TestLoadIntoAWorkTree:
    def test_a_folder_lands_under_its_name_and_reloads_quietly(
        self, two_versions: tuple[Datasets, Path]
    ) -> None:
        """load(dest=work tree) writes <dest>/images; loading again, or loading a version
        whose files the tree already holds, changes nothing and raises nothing."""
        ds, root = two_versions
        work = root / "work"
        work.mkdir()
        out = ds.load("images/1", dest=work)
        assert out == work / "images"
        assert (out / "sub" / "b.txt").read_text() == "B"
        assert ds.load("images/1", dest=work) == out

    def test_local_edits_are_refused_and_nothing_is_written(
        self, two_versions: tuple[Datasets, Path]
    ) -> None:
        """A file edited locally makes load refuse, naming it, and write nothing; files
        the version does not have are left alone; force=True overwrites the edit."""
        ds, root = two_versions
        work = root / "work"
        work.mkdir()
        out = ds.load("images/1", dest=work)
        (out / "a.txt").write_text("my edit")
        (out / "mine.txt").write_text("untracked")
        with pytest.raises(InvalidInputError, match=r"a\.txt") as err:
            ds.load("images/2", dest=work)
        assert err.value.found == [str(out / "a.txt")]
        assert not (out / "new").exists()  # nothing of version 2 was written
        assert (out / "sub" / "b.txt").read_text() == "B"
        ds.load("images/2", dest=work, force=True)
        assert (out / "a.txt").read_text() == "A"
        assert (out / "new" / "c.txt").read_text() == "CC"
        assert (out / "mine.txt").read_text() == "untracked"

    def test_moving_between_versions_is_not_an_edit(
        self, two_versions: tuple[Datasets, Path]
    ) -> None:
        """A file holding another version's bytes was written by a load, not edited:
        loading version 2 over version 1 (and back) needs no force."""
        ds, root = two_versions
        work = root / "work"
        work.mkdir()
        out = ds.load("images/1", dest=work)
        ds.load("images/2", dest=work)
        assert (out / "sub" / "b.txt").read_text() == "BBBB"
        ds.load("images/1", dest=work)
        assert (out / "sub" / "b.txt").read_text() == "B"

    def test_a_file_dataset_into_the_current_directory(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """dest='.' writes the file by its committed name; an edited copy is refused."""
        ds = Datasets(ArtifactStore(tmp_path / "store"))
        src = tmp_path / "src" / "data.csv"
        src.parent.mkdir()
        src.write_text("a\n1\n")
        ds.commit("csv", src)
        work = tmp_path / "work"
        work.mkdir()
        monkeypatch.chdir(work)
        assert ds.load("csv", dest=".").resolve() == work / "data.csv"
        (work / "data.csv").write_text("edited")
        with pytest.raises(InvalidInputError, match="force=True"):
            ds.load("csv", dest=".")
        assert (work / "data.csv").read_text() == "edited"
        ds.load("csv", dest=".", force=True)
        assert (work / "data.csv").read_text() == "a\n1\n"
