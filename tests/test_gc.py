"""collector_paused: searches and listings pause the cyclic collector and always restore it."""

from __future__ import annotations

import gc

import pytest

from mlopskit._gc import collector_paused


def test_paused_inside_and_back_on_after_an_error() -> None:
    """The collector is off in the block and on again after it, even when the block raises."""
    seen: list[bool] = []

    def search() -> None:
        with collector_paused():
            seen.append(gc.isenabled())
            raise ValueError("boom")

    assert gc.isenabled()
    with pytest.raises(ValueError, match="boom"):
        search()
    assert seen == [False]
    assert gc.isenabled()


def test_a_collector_the_caller_turned_off_stays_off() -> None:
    """A caller that disabled the collector itself does not find it re-enabled."""
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
