"""Unknown model names, versions and aliases: errors that say which, with the closest names."""

from __future__ import annotations

from typing import Any

import pytest

from mlopskit.errors import NotFoundError
from mlopskit.registry import Registry


@pytest.fixture
def reg(memory_store: Any) -> Registry:
    """A registry with 'breast-cancer' (2 versions, alias 'champion') and 'iris'."""
    registry = Registry(memory_store)
    registry.register("breast-cancer", {"w": 1}, run="r1")
    registry.register("breast-cancer", {"w": 2}, run="r1")
    registry.register("iris", {"w": 3}, run="r1")
    registry.set_alias("breast-cancer", "champion", 2)
    return registry


class TestUnknownModel:
    @pytest.mark.parametrize(
        "call",
        [
            lambda r: r.get("breast-cancr"),
            lambda r: r.get("breast-cancr/1"),
            lambda r: r.load("breast-cancr@latest", trusted=True),
            lambda r: r.versions("breast-cancr"),
            lambda r: r.aliases("breast-cancr"),
            lambda r: r.set_alias("breast-cancr", "champion", 1),
            lambda r: r.set_tag("breast-cancr", "k", "v"),
        ],
    )
    def test_names_the_closest_model(self, reg: Registry, call: Any) -> None:
        """Every lookup of a model that does not exist says so and names the closest one."""
        with pytest.raises(
            NotFoundError, match=r"no model named 'breast-cancr' .*; did you mean 'breast-cancer'"
        ) as info:
            call(reg)
        assert info.value.name == "breast-cancr"

    @pytest.mark.parametrize(
        "call",
        [
            lambda r: r.get("ghost@champion"),
            lambda r: r.delete_alias("ghost", "champion"),
            lambda r: r.rollback("ghost", "champion"),
        ],
    )
    def test_alias_of_a_missing_model_says_the_model_is_missing(
        self, reg: Registry, call: Any
    ) -> None:
        """'ghost@champion' says there is no model 'ghost', not that it has no alias."""
        with pytest.raises(NotFoundError, match="no model named 'ghost'") as info:
            call(reg)
        assert "alias" not in str(info.value)

    def test_an_empty_registry_says_there_are_none(self, memory_store: Any) -> None:
        """With nothing registered, the message says there are no models."""
        with pytest.raises(NotFoundError, match="; there are no models"):
            Registry(memory_store).versions("iris")


class TestUnknownAliasOrVersion:
    def test_unknown_alias_names_the_closest_alias(self, reg: Registry) -> None:
        """A typo in an alias of an existing model suggests the alias it has."""
        with pytest.raises(
            NotFoundError, match="model 'breast-cancer' has no alias 'champoin'; did you mean"
        ) as info:
            reg.get("breast-cancer@champoin")
        assert (info.value.name, info.value.alias) == ("breast-cancer", "champoin")
        assert "'champion'" in str(info.value)

    def test_unknown_alias_with_none_close_lists_them(self, reg: Registry) -> None:
        """An alias far from any lists the model's aliases."""
        with pytest.raises(NotFoundError, match="no alias 'staging'; aliases: 'champion'"):
            reg.get("breast-cancer@staging")

    def test_unknown_version_lists_the_versions(self, reg: Registry) -> None:
        """A version number that does not exist lists the ones that do."""
        with pytest.raises(NotFoundError, match="has no version 9; versions: 1, 2"):
            reg.get("breast-cancer/9")
