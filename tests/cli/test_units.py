"""The CLI's small parts: durations, JSON conversion, tables (properties where they apply)."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

import click
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlopskit.cli._app import EXIT_FAILED, EXIT_USAGE, exit_code_of, human_bytes, jsonable
from mlopskit.cli._store import parse_duration
from mlopskit.errors import (
    ConfigError,
    IntegrityError,
    MissingExtraError,
    NotFoundError,
    RefConflictError,
    StorageError,
)

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class TestParseDuration:
    @given(n=st.integers(0, 10**6), unit=st.sampled_from(sorted(UNITS)))
    def test_round_trip(self, n: int, unit: str) -> None:
        """'<n><unit>' is n seconds, minutes, hours or days."""
        assert parse_duration(f"{n}{unit}") == timedelta(seconds=n * UNITS[unit])

    @pytest.mark.parametrize("text", ["", "1", "h", "1w", "-1h", "1.h", "one hour"])
    def test_rejects_what_is_not_a_duration(self, text: str) -> None:
        """Anything else is a click usage error naming the accepted forms."""
        with pytest.raises(click.BadParameter, match="30s, 15m, 1h or 2d"):
            parse_duration(text)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.datetimes(timezones=st.just(timezone.utc)),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
        | st.tuples(inner, inner)
    ),
    max_leaves=20,
)


class TestJsonable:
    @given(json_values)
    def test_output_is_strict_json(self, value: object) -> None:
        """Whatever goes in, the result is valid JSON (no NaN, no infinity, no datetime)."""
        json.dumps(jsonable(value), allow_nan=False)

    @given(st.floats(allow_nan=True, allow_infinity=True))
    def test_floats_keep_their_value_or_become_null(self, x: float) -> None:
        """Finite floats are kept exactly; NaN and ±inf become null."""
        assert jsonable(x) == (x if math.isfinite(x) else None)

    def test_datetimes_and_models(self) -> None:
        """Datetimes become ISO 8601 and objects with model_dump are dumped."""
        when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)

        class Model:
            def model_dump(self, mode: str = "python") -> dict[str, object]:
                return {"when": when, "mode": mode}

        assert jsonable(Model()) == {"when": "2026-01-02T03:04:05+00:00", "mode": "json"}


class TestExitCodes:
    @pytest.mark.parametrize(
        ("error", "code"),
        [
            (NotFoundError("x"), EXIT_USAGE),
            (ConfigError("x"), EXIT_USAGE),
            (MissingExtraError("x"), EXIT_USAGE),
            (RefConflictError("x"), EXIT_FAILED),
            (IntegrityError("x"), EXIT_FAILED),
            (StorageError("x"), EXIT_FAILED),
        ],
    )
    def test_errors_map_to_documented_codes(self, error: Exception, code: int) -> None:
        """Not-found and usage errors exit 2; refused, damaged or failed operations exit 1."""
        assert exit_code_of(error) == code  # type: ignore[arg-type]


@given(st.integers(0, 2**63 - 1))
def test_human_bytes_is_short(n: int) -> None:
    """Sizes print in at most four digits and a unit."""
    text = human_bytes(n)
    number, unit = text.split()
    assert unit in {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
    assert len(number.replace(".", "")) <= 5
