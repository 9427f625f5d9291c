"""The codec: one decoding path for every input shape, and the V2 / MLflow encoders."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from deploy_strategies import numeric_frames, typed_frames
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mlopskit.deploy._codec import (
    V2_DATATYPES,
    _has_json_bool,
    conform,
    decode_mlflow,
    decode_v2,
    decode_v2_response,
    encode_mlflow,
    encode_mlflow_request,
    encode_v2,
    encode_v2_request,
    signature_tensors,
    to_frame,
)
from mlopskit.errors import InvalidInputError, SchemaError
from mlopskit.registry import infer_signature

SHAPES = ("dataframe_split", "dataframe_records", "instances", "inputs")


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": [1.5, 2.5, -3.0],
            "n": pd.array([1, None, 3], dtype="Int64"),
            "k": np.array([7, 8, 9], dtype="int32"),
            "s": pd.array(["a", None, "c"], dtype="string"),
            "b": [True, False, True],
        }
    )


class TestRoundTrips:
    @settings(max_examples=150, deadline=None)
    @given(typed_frames())
    def test_every_mlflow_json_shape_round_trips(self, frame: pd.DataFrame) -> None:
        """A frame sent in any of MLflow's four JSON shapes decodes to the same frame, dtypes included."""
        sig = infer_signature(frame)
        for shape in SHAPES:
            body = encode_mlflow_request(frame, shape=shape)
            got = decode_mlflow(body, "application/json", signature=sig).frame
            pd.testing.assert_frame_equal(got, frame, check_exact=True)

    @settings(max_examples=150, deadline=None)
    @given(typed_frames())
    @example(pd.DataFrame({"c0_str": pd.Series([" "], dtype="str")}))
    @example(pd.DataFrame({"s": pd.Series(["  ", "x", " "], dtype="str")}))
    def test_csv_round_trips_with_the_same_dtypes_as_json(self, frame: pd.DataFrame) -> None:
        """CSV decodes to exactly what JSON decodes to: the signature types both (MLflow #5525)."""
        sig = infer_signature(frame)
        got = decode_mlflow(frame.to_csv(index=False).encode(), "text/csv", signature=sig).frame
        pd.testing.assert_frame_equal(got, frame, check_exact=True)

    @settings(max_examples=150, deadline=None)
    @given(typed_frames())
    def test_oip_v2_request_round_trips(self, frame: pd.DataFrame) -> None:
        """An OIP V2 request with one tensor per column decodes to the same frame and keeps its id."""
        sig = infer_signature(frame)
        decoded = decode_v2(encode_v2_request(frame, id="req-1"), signature=sig)
        pd.testing.assert_frame_equal(decoded.frame, frame, check_exact=True)
        assert decoded.id == "req-1"

    @settings(max_examples=150, deadline=None)
    @given(typed_frames())
    def test_v2_response_round_trips_every_dtype(self, frame: pd.DataFrame) -> None:
        """Outputs of every dtype survive encode_v2 → JSON → decode_v2_response, nulls as null.

        Times and categories travel as text (BYTES), the only V2 datatype that holds them.
        """
        body = json.dumps(encode_v2(frame, model_name="m", id="x"), allow_nan=False)
        back = decode_v2_response(body.encode())
        assert list(back) == list(frame.columns)
        for col in frame.columns:
            want = frame[col]
            got = pd.Series(back[col])
            assert want.isna().tolist() == got.isna().tolist()
            keep = ~want.isna().to_numpy()
            if want.dtype.kind == "M":  # times travel as ISO 8601 text (BYTES)
                got = pd.to_datetime(got, format="ISO8601")
            elif want.dtype.kind == "m":
                got = pd.to_timedelta(got)
            assert want[keep].tolist() == got[keep].tolist()

    @settings(max_examples=150, deadline=None)
    @given(numeric_frames())
    def test_numeric_fast_paths_round_trip_exactly(self, frame: pd.DataFrame) -> None:
        """All-numeric inputs (the decoders' fast paths) round-trip exactly, int64 extremes included."""
        sig = infer_signature(frame)
        bodies = [
            (encode_mlflow_request(frame, shape="dataframe_split"), "application/json"),
            (encode_mlflow_request(frame, shape="instances"), "application/json"),
            (json.dumps({"instances": frame.to_numpy().tolist()}).encode(), "application/json"),
            (frame.to_csv(index=False).encode(), "text/csv"),
        ]
        for body, media in bodies:
            got = decode_mlflow(body, media, signature=sig).frame
            if not frame.dtypes.eq(frame.dtypes.iloc[0]).all() and b'"instances": [[' in body:
                continue  # rows of mixed int/float columns are floats in JSON: not exact
            pd.testing.assert_frame_equal(got, frame, check_exact=True)
        got = decode_v2(encode_v2_request(frame), signature=sig).frame
        pd.testing.assert_frame_equal(got, frame, check_exact=True)

    @settings(max_examples=100, deadline=None)
    @given(typed_frames())
    def test_conforming_frame_passes_through(self, frame: pd.DataFrame) -> None:
        """A frame that already fits its signature is given to the model as it is (no copy)."""
        assert conform(frame, infer_signature(frame)) is frame

    def test_all_input_forms_agree(self) -> None:
        """DataFrame, dict, records, rows, numpy, CSV and V2 inputs give one and the same frame."""
        frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
        sig = infer_signature(frame)
        forms = [
            frame,
            {"a": [1.0, 2.0], "b": [3.0, 4.0]},
            [{"a": 1.0, "b": 3.0}, {"a": 2.0, "b": 4.0}],
            [[1.0, 3.0], [2.0, 4.0]],
            np.array([[1.0, 3.0], [2.0, 4.0]]),
            "a,b\n1.0,3.0\n2.0,4.0\n",
            encode_mlflow_request(frame),
        ]
        for form in forms:
            got = conform(to_frame(form, signature=sig), sig, from_text=isinstance(form, str))
            pd.testing.assert_frame_equal(got, frame)
        pd.testing.assert_frame_equal(
            decode_v2(encode_v2_request(frame), signature=sig).frame, frame
        )

    def test_int_json_into_float_column_is_accepted(self) -> None:
        """JSON integers fill a double column (a widening), as clients send ``1`` for ``1.0``."""
        sig = infer_signature(pd.DataFrame({"x": [0.5]}))
        body = json.dumps({"dataframe_split": {"columns": ["x"], "data": [[1], [2]]}}).encode()
        got = decode_mlflow(body, "application/json", signature=sig).frame
        assert got["x"].dtype == np.float64 and got["x"].tolist() == [1.0, 2.0]

    def test_v2_single_matrix_tensor_maps_to_signature_columns(self) -> None:
        """One ``[n, k]`` V2 tensor fills the signature's k columns in order."""
        frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
        body = encode_v2_request(frame.to_numpy())
        got = decode_v2(body, signature=infer_signature(frame)).frame
        pd.testing.assert_frame_equal(got, frame)

    def test_tensor_signature_gets_an_array(self) -> None:
        """A model with a tensor signature is given a typed numpy array from any form."""
        sig = infer_signature(np.zeros((2, 3), dtype="float32"))
        body = json.dumps({"instances": [[1, 2, 3], [4, 5, 6]]}).encode()
        got = decode_mlflow(body, "application/json", signature=sig).frame
        assert isinstance(got, np.ndarray) and got.dtype == np.float32 and got.shape == (2, 3)


class TestSchemaErrors:
    def test_missing_column_names_it(self) -> None:
        """A missing column is a SchemaError naming the column and the expected columns."""
        sig = infer_signature(_frame())
        body = encode_mlflow_request(_frame().drop(columns=["k"]))
        with pytest.raises(SchemaError, match="'k'") as err:
            decode_mlflow(body, "application/json", signature=sig)
        assert err.value.column == "k"
        assert "k" in err.value.expected

    @pytest.mark.parametrize(
        ("column", "values", "found"),
        [
            ("k", [1.5, 2.0, 3.0], "non-integer"),
            ("k", [1, 2, 2**40], "range"),
            ("x", ["a", "b", "c"], "string"),
            ("b", [1, 0, 1], "integer"),
            ("s", [1, 2, 3], "integer"),
        ],
    )
    def test_lossy_or_wrong_values_are_refused(
        self, column: str, values: list[object], found: str
    ) -> None:
        """Values that cannot be converted without loss raise SchemaError naming the column."""
        sig = infer_signature(_frame())
        frame = _frame().astype({column: object})
        frame[column] = values
        with pytest.raises(SchemaError, match=found) as err:
            conform(frame, sig)
        assert err.value.column == column
        assert err.value.expected == next(c.type for c in sig.inputs.columns if c.name == column)

    def test_nulls_in_non_nullable_column_are_refused(self) -> None:
        """A null where the signature allows none is a SchemaError, not a NaN passed to the model."""
        sig = infer_signature(_frame())
        body = json.dumps(
            {"dataframe_records": [{"x": None, "n": 1, "k": 1, "s": "a", "b": True}]}
        ).encode()
        with pytest.raises(SchemaError, match="missing value") as err:
            decode_mlflow(body, "application/json", signature=sig)
        assert err.value.column == "x"

    def test_nulls_in_nullable_columns_are_kept(self) -> None:
        """Nullable ints and strings keep their nulls as pd.NA through JSON."""
        sig = infer_signature(_frame())
        got = decode_mlflow(encode_mlflow_request(_frame()), "application/json", signature=sig)
        assert got.frame["n"].isna().tolist() == [False, True, False]
        assert got.frame["s"].isna().tolist() == [False, True, False]

    def test_unseen_category_is_refused(self) -> None:
        """A value outside a categorical column's categories is a SchemaError, never a silent NaN."""
        frame = pd.DataFrame({"c": pd.Categorical(["a", "b"])})
        sig = infer_signature(frame)
        with pytest.raises(SchemaError, match="categories") as err:
            conform(pd.DataFrame({"c": ["a", "zzz"]}), sig)
        assert err.value.column == "c"

    def test_errors_echo_no_input_by_default(self) -> None:
        """By default an error quotes no input value; with echo it quotes at most that many characters."""
        sig = infer_signature(pd.DataFrame({"x": [0.5]}))
        bad = pd.DataFrame({"x": ["secret-value-123"]})
        with pytest.raises(SchemaError) as hidden:
            conform(bad, sig)
        assert "secret" not in str(hidden.value)
        with pytest.raises(SchemaError) as shown:
            conform(bad, sig, echo=8)
        assert "'secret" in str(shown.value) and "123" not in str(shown.value)

    def test_extra_columns_are_dropped_and_order_follows_signature(self) -> None:
        """Extra columns are ignored and columns are put in the signature's order."""
        sig = infer_signature(pd.DataFrame({"a": [1.0], "b": [2.0]}))
        got = conform(pd.DataFrame({"z": ["x"], "b": [2.0], "a": [1.0]}), sig)
        assert list(got.columns) == ["a", "b"]


class TestBadBodies:
    @pytest.mark.parametrize(
        "body",
        [
            b"{not json",
            b"[1, 2]",
            b'{"nothing": 1}',
            b'{"instances": [[1]], "inputs": [[1]]}',
            b'{"dataframe_split": [1, 2]}',
            b'{"dataframe_records": [1, 2]}',
            b"\xff\xfe",
        ],
    )
    def test_bad_mlflow_json_is_invalid_input(self, body: bytes) -> None:
        """Malformed JSON or a body without exactly one MLflow shape is an InvalidInputError."""
        with pytest.raises(InvalidInputError):
            decode_mlflow(body, "application/json")

    def test_nan_tokens_are_missing_values(self) -> None:
        """``NaN`` (which Python's json writes) reads as a missing value, with or without orjson."""
        body = b'{"dataframe_split": {"columns": ["x"], "data": [[NaN], [1.5]]}}'
        nullable = infer_signature(pd.DataFrame({"x": pd.array([1.0, None], dtype="Float64")}))
        got = decode_mlflow(body, "application/json", signature=nullable).frame
        assert got["x"].isna().tolist() == [True, False]
        strict = infer_signature(pd.DataFrame({"x": [1.0]}))
        with pytest.raises(SchemaError, match="missing"):
            decode_mlflow(body, "application/json", signature=strict)

    def test_unsupported_content_type(self) -> None:
        """Only JSON and CSV are accepted, and the error says so."""
        with pytest.raises(InvalidInputError, match="text/csv") as err:
            decode_mlflow(b"x", "application/xml")
        assert err.value.found == "application/xml"

    def test_csv_blank_lines_are_rows_only_in_one_column(self) -> None:
        """One column: a blank line is an empty field (a row). Several: it is no record."""
        one = infer_signature(pd.DataFrame({"s": pd.array(["a"], dtype="string")}))
        got = decode_mlflow(b"s\na\n\n b\n", "text/csv", signature=one).frame
        assert got["s"].tolist() == ["a", pd.NA, " b"]
        two = infer_signature(pd.DataFrame({"x": [1.0], "s": ["a"]}))
        got = decode_mlflow(b"x,s\n1,a\n\n2,b\n", "text/csv", signature=two).frame
        assert got.to_dict("list") == {"x": [1.0, 2.0], "s": ["a", "b"]}

    def test_empty_csv(self) -> None:
        """An empty CSV body is an InvalidInputError, not an empty prediction."""
        with pytest.raises(InvalidInputError, match="empty"):
            decode_mlflow(b"  ", "text/csv")

    @pytest.mark.parametrize(
        ("tensor", "match"),
        [
            ({"name": "a", "shape": [2], "datatype": "FP99", "data": [1, 2]}, "datatype"),
            ({"name": "a", "shape": [3], "datatype": "FP64", "data": [1, 2]}, "needs 3"),
            ({"name": "a", "shape": [2], "datatype": "INT64", "data": [1.5, 2]}, "non-integer"),
            ({"name": "a", "shape": [2], "datatype": "BOOL", "data": [1, 0]}, "BOOL"),
            ({"name": "a", "shape": [2], "datatype": "BYTES", "data": [1, 0]}, "strings"),
            ({"name": "a", "shape": [2], "datatype": "INT8", "data": [1, 300]}, "INT8"),
            ({"name": "a", "datatype": "FP64", "data": [1]}, "lacks"),
        ],
    )
    def test_bad_v2_tensors(self, tensor: dict[str, object], match: str) -> None:
        """Unknown datatypes, wrong sizes and values that do not fit their datatype are refused."""
        with pytest.raises(InvalidInputError, match=match):
            decode_v2(json.dumps({"inputs": [tensor]}).encode())

    def test_v2_request_without_inputs(self) -> None:
        """A V2 body without an ``inputs`` list is an InvalidInputError."""
        with pytest.raises(InvalidInputError, match="inputs"):
            decode_v2(b'{"id": "x"}')

    def test_v2_outputs_and_parameters_are_decoded(self) -> None:
        """The requested output names and the parameters reach the server."""
        body = json.dumps(
            {
                "inputs": [{"name": "a", "shape": [1], "datatype": "FP64", "data": [1.0]}],
                "outputs": [{"name": "predict"}],
                "parameters": {"content_type": "pd"},
            }
        ).encode()
        decoded = decode_v2(body)
        assert decoded.outputs == ["predict"]
        assert decoded.parameters == {"content_type": "pd"}


class TestEncoders:
    def test_mlflow_predictions(self) -> None:
        """Arrays, 2-D arrays and frames encode as MLflow writes them; NaN becomes null."""
        assert encode_mlflow(np.array([1, 2])) == {"predictions": [1, 2]}
        assert encode_mlflow(np.array([[0.5, 0.5]])) == {"predictions": [[0.5, 0.5]]}
        assert encode_mlflow(np.array([1.0, np.nan])) == {"predictions": [1.0, None]}
        out = encode_mlflow(pd.DataFrame({"p": [0.1], "q": ["x"]}))
        assert out == {"predictions": [{"p": 0.1, "q": "x"}]}
        json.dumps(out, allow_nan=False)

    @pytest.mark.parametrize(
        ("values", "datatype"),
        [
            (np.array([True]), "BOOL"),
            (np.array([1], dtype="uint8"), "UINT8"),
            (np.array([1], dtype="int16"), "INT16"),
            (np.array([1], dtype="int64"), "INT64"),
            (np.array([1], dtype="float16"), "FP16"),
            (np.array([1], dtype="float32"), "FP32"),
            (np.array([1.0]), "FP64"),
            (np.array(["a"], dtype=object), "BYTES"),
            (pd.array([1, None], dtype="Int64"), "INT64"),
            (pd.array([True, None], dtype="boolean"), "BOOL"),
            (pd.array(["a", None], dtype="string"), "BYTES"),
        ],
    )
    def test_v2_datatypes(self, values: object, datatype: str) -> None:
        """Each output dtype gets its OIP V2 datatype; the body is valid JSON."""
        body = encode_v2(values, model_name="m", model_version="2", id="r")
        (tensor,) = body["outputs"]
        assert tensor["datatype"] == datatype
        assert datatype in V2_DATATYPES
        assert body["id"] == "r" and body["model_version"] == "2"
        json.dumps(body, allow_nan=False)

    def test_v2_matrix_output_is_row_major(self) -> None:
        """A 2-D output is one tensor with its shape and row-major flat data."""
        body = encode_v2(np.array([[1, 2], [3, 4]]), model_name="m", name="predict_proba")
        assert body["outputs"] == [
            {"name": "predict_proba", "shape": [2, 2], "datatype": "INT64", "data": [1, 2, 3, 4]}
        ]
        assert decode_v2_response(body)["predict_proba"].tolist() == [[1, 2], [3, 4]]

    def test_signature_tensors(self) -> None:
        """Model metadata lists each signature column as a ``[-1]`` tensor with its datatype."""
        sig = infer_signature(_frame(), np.array([0, 1, 0]))
        inputs, outputs = signature_tensors(sig)
        assert [(t["name"], t["datatype"]) for t in inputs] == [
            ("x", "FP64"),
            ("n", "INT64"),
            ("k", "INT32"),
            ("s", "BYTES"),
            ("b", "BOOL"),
        ]
        assert outputs == [{"name": "predict", "datatype": "INT64", "shape": [-1]}]


class TestBooleanScan:
    @settings(max_examples=300)
    @given(
        st.lists(
            st.sampled_from(
                [b"true", b"false", b"t", b"f", b"tru", b"fals", b"1.5", b"e", b",", b'"x"']
            ),
            max_size=30,
        ).map(b"".join)
    )
    def test_scan_agrees_with_a_substring_search(self, body: bytes) -> None:
        """The fast boolean scan that picks the numeric fast path finds 'true'/'false'
        exactly where a plain substring search does (never misses a boolean)."""
        assert _has_json_bool(body) == (b"true" in body or b"false" in body)

    def test_boolean_in_a_float_tensor_is_refused(self) -> None:
        """A V2 FP64 tensor holding a JSON boolean is a SchemaError, not a silent 1.0."""
        body = json.dumps(
            {"inputs": [{"name": "x", "shape": [2], "datatype": "FP64", "data": [1.5, True]}]}
        ).encode()
        with pytest.raises(SchemaError, match="bool"):
            decode_v2(body)


# Values a client may put in a V2 tensor's data: numbers of every JSON form, and the odd
# ones (text, null) the careful path must still see and report.
_V2_VALUES = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([None, "1.5", "x", 0, -0.0, 1e308, 5e-324]),
)


def _reference_v2(body: bytes, signature: object) -> object:
    """What decode_v2 gives through the ordinary parse (stdlib JSON), or the error raised."""
    from mlopskit.deploy._codec import _decode_v2_object

    try:
        with np.errstate(over="ignore"):  # a float beyond FP32: both paths give inf
            return _decode_v2_object(json.loads(body), signature, 0, _has_json_bool(body))  # type: ignore[arg-type]
    except (InvalidInputError, SchemaError) as exc:
        return exc


def _decoded_v2(body: bytes, signature: object) -> object:
    try:
        with np.errstate(over="ignore"):
            return decode_v2(body, signature=signature)  # type: ignore[arg-type]
    except (InvalidInputError, SchemaError) as exc:
        return exc


def _assert_same_decoding(got: object, want: object) -> None:
    if isinstance(want, Exception):
        assert type(got) is type(want) and str(got) == str(want)
        return
    assert not isinstance(got, Exception), got
    assert got.id == want.id and got.parameters == want.parameters  # type: ignore[attr-defined]
    assert got.outputs == want.outputs  # type: ignore[attr-defined]
    pd.testing.assert_frame_equal(got.frame, want.frame, check_exact=True)  # type: ignore[attr-defined]


class TestV2LargeBodies:
    """Bodies of 4 KiB and more are parsed by simdjson (when installed), numbers straight
    into arrays; whatever the data holds, the answer is the ordinary parse's."""

    @settings(max_examples=120, deadline=None)
    @given(
        rows=st.integers(min_value=10, max_value=60),
        datatype=st.sampled_from(["FP64", "FP32", "INT64", "BYTES"]),
        odd=st.lists(st.tuples(st.integers(0, 10**6), _V2_VALUES), max_size=3),
        nested=st.booleans(),
        wrong_count=st.booleans(),
    )
    # FP32 overflowing to +inf and to -inf in one tensor: their sum is nan ("invalid")
    @example(rows=10, datatype="FP32", odd=[(0, 1e39), (1, -1e39)], nested=False, wrong_count=False)
    # 2**63 in an INT64 tensor with a null: a SchemaError, not pandas' raw OverflowError
    @example(
        rows=10, datatype="INT64", odd=[(0, 2.0**63), (1, None)], nested=False, wrong_count=False
    )
    def test_matrix_tensor_decodes_as_the_ordinary_parse(
        self,
        rows: int,
        datatype: str,
        odd: list[tuple[int, object]],
        nested: bool,
        wrong_count: bool,
    ) -> None:
        """One [n, 20] tensor, flat or nested, with odd values anywhere: the same frame, or
        the same error, as the stdlib JSON parse gives."""
        rng = np.random.default_rng(rows)
        flat: list[object] = rng.normal(size=rows * 20).tolist()
        for where, value in odd:
            flat[where % len(flat)] = value
        if wrong_count:
            flat = flat[:-1]
        data: object = [flat[i : i + 20] for i in range(0, len(flat), 20)] if nested else flat
        body = json.dumps(
            {
                "id": "big",
                "inputs": [{"name": "x", "shape": [rows, 20], "datatype": datatype, "data": data}],
            }
        ).encode()
        assert len(body) >= 4096
        _assert_same_decoding(_decoded_v2(body, None), _reference_v2(body, None))

    @settings(max_examples=60, deadline=None)
    @given(numeric_frames())
    def test_column_tensors_decode_as_the_ordinary_parse(self, frame: pd.DataFrame) -> None:
        """One tensor per column, padded past 4 KiB, decodes to the frame the stdlib parse gives."""
        frame = pd.concat([frame] * max(1, 4096 // max(1, 8 * frame.size)), ignore_index=True)
        sig = infer_signature(frame)
        body = encode_v2_request(frame, id="cols")
        _assert_same_decoding(_decoded_v2(body, sig), _reference_v2(body, sig))

    def test_repeated_keys_keep_the_last_one(self) -> None:
        """A key given twice counts once, the last one, as in every JSON parser's dict."""
        data = ",".join(["1.5"] * 2000)
        body = (
            '{"inputs": [{"name": "x", "shape": [2, 1000], "datatype": "FP64", '
            f'"data": [{data}], "shape": [100, 20]}}], "id": "a", "id": "b"}}'
        ).encode()
        got = decode_v2(body)
        assert got.id == "b"
        assert got.frame.shape == (100, 20)
