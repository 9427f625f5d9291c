"""The codec registry and the built-in codecs."""

from __future__ import annotations

import importlib
import io
import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlopskit._optional import is_available
from mlopskit.errors import (
    IntegrityError,
    InvalidInputError,
    MlopskitError,
    UntrustedObjectError,
)
from mlopskit.hashing import digest_bytes

Buffer = bytes | bytearray | memoryview

RAW = "application/octet-stream"
NPY = "application/x-npy"
PARQUET = "application/vnd.apache.parquet"
PARQUET_SERIES = "application/vnd.apache.parquet; pandas=series"
PANDAS_PICKLE = "application/vnd.mlopskit.pandas+pickle"
PYDANTIC = "application/vnd.mlopskit.pydantic+json"
JSON = "application/json"
CLOUDPICKLE = "application/vnd.mlopskit.cloudpickle"
SKOPS = "application/vnd.mlopskit.skops+zip"

_PICKLE_TYPES = frozenset({PANDAS_PICKLE, CLOUDPICKLE})


@dataclass(frozen=True)
class Encoded:
    """An encoded object: its media type and the byte chunks to store, in order."""

    media_type: str
    chunks: Sequence[Buffer]
    is_pickle: bool = False

    @property
    def size(self) -> int:
        """Total number of bytes."""
        return sum(memoryview(c).nbytes for c in self.chunks)


@dataclass(frozen=True)
class Codec:
    """A named pair of functions between objects and bytes."""

    name: str
    media_types: tuple[str, ...]
    accepts: Callable[[Any], bool]
    encode: Callable[[Any], Encoded | None]
    decode: Callable[..., Any]
    is_pickle: bool = False
    magic: tuple[bytes, ...] = field(default=())
    trust_aware: bool = False
    """``decode`` takes ``trusted=`` (it decides itself what an untrusted load may do)."""


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON bytes: sorted keys, no spaces, UTF-8, no NaN."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _is_jsonable(value: Any, depth: int = 0) -> bool:
    if depth > 200:
        return False
    if value is None or isinstance(value, (bool, str)):
        return True
    if type(value) is int:
        return True
    if type(value) is float:
        return math.isfinite(value)
    if type(value) is list:
        return all(_is_jsonable(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(type(k) is str and _is_jsonable(v, depth + 1) for k, v in value.items())
    return False


# -- raw bytes ---------------------------------------------------------------------


def _raw_encode(obj: Any) -> Encoded:
    return Encoded(RAW, [obj])


def _raw_decode(data: bytes, media_type: str) -> Any:
    return bytes(data)


# -- numpy ---------------------------------------------------------------------------


def _is_ndarray(obj: Any) -> bool:
    if "numpy" not in sys.modules:
        return False
    import numpy as np

    return isinstance(obj, np.ndarray) and not obj.dtype.hasobject


def _npy_encode(obj: Any) -> Encoded:
    import numpy as np

    arr = np.ascontiguousarray(obj)
    header = io.BytesIO()
    meta = np.lib.format.header_data_from_array_1_0(arr)
    try:
        np.lib.format.write_array_header_1_0(header, meta)
    except ValueError:  # header too large for format 1.0
        np.lib.format.write_array_header_2_0(header, meta)
    body = memoryview(arr).cast("B") if arr.size else b""  # type: ignore[arg-type]
    return Encoded(NPY, [header.getvalue(), body])


def _npy_decode(data: bytes, media_type: str) -> Any:
    import numpy as np

    return np.load(io.BytesIO(data), allow_pickle=False)


# -- pandas --------------------------------------------------------------------------


def _is_pandas(obj: Any) -> bool:
    if "pandas" not in sys.modules:
        return False
    import pandas as pd

    return isinstance(obj, (pd.DataFrame, pd.Series))


def _pandas_encode(obj: Any) -> Encoded:
    import pandas as pd

    if is_available("pyarrow"):
        frame = obj.to_frame() if isinstance(obj, pd.Series) else obj
        media = PARQUET_SERIES if isinstance(obj, pd.Series) else PARQUET
        buf = io.BytesIO()
        try:
            frame.to_parquet(buf, engine="pyarrow", compression="zstd")
        except Exception:
            pass
        else:
            return Encoded(media, [buf.getvalue()])
    import pickle

    return Encoded(PANDAS_PICKLE, [pickle.dumps(obj, protocol=5)], is_pickle=True)


def _pandas_decode(data: bytes, media_type: str) -> Any:
    import pandas as pd

    if media_type.startswith(PARQUET):
        frame = pd.read_parquet(io.BytesIO(data), engine="pyarrow")
        if media_type == PARQUET_SERIES:
            return frame.iloc[:, 0]
        return frame
    import pickle

    return pickle.loads(data)


# -- pydantic ------------------------------------------------------------------------


def _is_pydantic(obj: Any) -> bool:
    if "pydantic" not in sys.modules:
        return False
    from pydantic import BaseModel

    return isinstance(obj, BaseModel)


def _pydantic_encode(obj: Any) -> Encoded | None:
    cls = type(obj)
    if "<locals>" in cls.__qualname__:
        return None  # cannot be re-imported by name: let cloudpickle take it
    try:
        payload = {
            "type": f"{cls.__module__}:{cls.__qualname__}",
            "data": obj.model_dump(mode="json"),
        }
        return Encoded(PYDANTIC, [canonical_json(payload)])
    except (TypeError, ValueError):
        return None


# Modules whose pydantic models a stored record may name even when they are not
# imported yet (importing them runs only code we ship or the user allowed).
_PYDANTIC_MODULES: set[str] = {"mlopskit"}


def allow_pydantic_module(module: str) -> None:
    """Let untrusted stored records name pydantic models of ``module`` (and its submodules).

    A stored pydantic object names its class by ``module:qualname``. Without
    ``trusted=True``, only classes of modules already imported, or allowed here, are
    resolved: importing a module runs its top-level code, so a record planted in a
    shared store must not be able to import what it likes.
    """
    if not isinstance(module, str) or not all(p.isidentifier() for p in module.split(".")):
        raise InvalidInputError(
            f"expected a dotted module name such as 'myproject.schemas'; found {module!r}",
            found=module,
        )
    _PYDANTIC_MODULES.add(module)


def _allowed(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in _PYDANTIC_MODULES)


def _pydantic_class(type_name: Any, *, trusted: bool) -> Any:
    """The pydantic model class a stored record names, imported only if allowed."""
    from pydantic import BaseModel

    if not isinstance(type_name, str) or ":" not in type_name:
        raise ValueError(f"'type' must be 'module:qualname', found {type_name!r}")
    module_name, _, qualname = type_name.partition(":")
    parts = [*module_name.split("."), *qualname.split(".")]
    if not all(p.isidentifier() and not p.startswith("__") for p in parts):
        raise ValueError(f"'type' {type_name!r} is not a dotted Python name")
    module = sys.modules.get(module_name)
    if module is None:
        if not (trusted or _allowed(module_name)):
            raise UntrustedObjectError(
                f"refusing to import module {module_name!r} named by a stored pydantic object "
                f"(class {qualname}): importing a module runs its code. Import it yourself "
                f"first, allow it with mlopskit.serialize.allow_pydantic_module("
                f"{module_name!r}), or pass trusted=True if you trust who wrote the store.",
                media_type=PYDANTIC,
            )
        module = importlib.import_module(module_name)
    target: Any = module
    for part in qualname.split("."):
        # vars(), not getattr(): no module __getattr__ or descriptor runs on the way.
        target = vars(target).get(part) if hasattr(target, "__dict__") else None
        if target is None:
            raise ValueError(f"module {module_name!r} has no {qualname!r}")
    if not (isinstance(target, type) and issubclass(target, BaseModel)):
        raise ValueError(f"{type_name!r} is not a pydantic model class")
    return target


def _pydantic_decode(data: bytes, media_type: str, *, trusted: bool = False) -> Any:
    payload = json.loads(data)
    if not isinstance(payload, dict) or set(payload) != {"type", "data"}:
        raise ValueError("expected a JSON object with exactly 'type' and 'data'")
    cls = _pydantic_class(payload["type"], trusted=trusted)
    return cls.model_validate(payload["data"])


# -- json ----------------------------------------------------------------------------


def _json_encode(obj: Any) -> Encoded:
    return Encoded(JSON, [canonical_json(obj)])


def _json_decode(data: bytes, media_type: str) -> Any:
    return json.loads(data)


# -- cloudpickle ---------------------------------------------------------------------


def _pickle_encode(obj: Any) -> Encoded:
    import cloudpickle

    return Encoded(CLOUDPICKLE, [cloudpickle.dumps(obj, protocol=5)], is_pickle=True)


def _pickle_decode(data: bytes, media_type: str) -> Any:
    import cloudpickle

    return cloudpickle.loads(data)


# Beyond skops' own default list, only scikit-learn's classes are trusted: a function such
# as builtins.eval or numpy.load inside a FunctionTransformer would run on request data.
_SAFE_SKOPS_ROOTS = frozenset({"sklearn"})
# Plain data types skops does not list by default but that run no code when loaded
# (SimpleImputer keeps the dtype it was fitted on).
_SAFE_SKOPS_TYPES = frozenset({"numpy.dtype"})


def _skops_decode(data: bytes, media_type: str, *, trusted: bool = False) -> Any:
    """A skops archive (a scikit-learn model): skops' trusted types and scikit-learn's own
    classes load; anything else only when ``trusted``."""
    from mlopskit._optional import import_optional

    sio = import_optional("skops.io", "sklearn", purpose="loading scikit-learn models")
    untrusted = list(sio.get_untrusted_types(data=data))
    unsafe = [
        t
        for t in untrusted
        if t.split(".")[0] not in _SAFE_SKOPS_ROOTS and t not in _SAFE_SKOPS_TYPES
    ]
    if unsafe and not trusted:
        raise UntrustedObjectError(
            "the skops model holds types skops does not trust and that are not scikit-learn "
            f"classes: {unsafe[:5]}; loading them may run their code. Pass trusted=True if "
            "you trust this model",
            media_type=SKOPS,
        )
    return sio.loads(data, trusted=untrusted)


_CODECS: list[Codec] = [
    Codec(
        "raw",
        (RAW,),
        lambda o: isinstance(o, (bytes, bytearray, memoryview)),
        _raw_encode,
        _raw_decode,
    ),
    Codec("npy", (NPY,), _is_ndarray, _npy_encode, _npy_decode, magic=(b"\x93NUMPY",)),
    Codec(
        "pandas",
        (PARQUET, PARQUET_SERIES, PANDAS_PICKLE),
        _is_pandas,
        _pandas_encode,
        _pandas_decode,
        magic=(b"PAR1",),
    ),
    Codec(
        "pydantic",
        (PYDANTIC,),
        _is_pydantic,
        _pydantic_encode,
        _pydantic_decode,
        trust_aware=True,
    ),
    Codec("json", (JSON,), _is_jsonable, _json_encode, _json_decode),
    # Decode only: models are written as skops by mlopskit.deploy's payload formats.
    Codec(
        "skops",
        (SKOPS,),
        lambda o: False,
        lambda o: None,
        _skops_decode,
        trust_aware=True,
    ),
    Codec(
        "cloudpickle",
        (CLOUDPICKLE,),
        lambda o: True,
        _pickle_encode,
        _pickle_decode,
        is_pickle=True,
        magic=(b"\x80",),
    ),
]


def register_codec(codec: Codec, *, before: str | None = "json") -> None:
    """Add a codec, tried before the codec named ``before`` (default: before JSON)."""
    names = [c.name for c in _CODECS]
    if codec.name in names:
        _CODECS[names.index(codec.name)] = codec
        return
    index = names.index(before) if before in names else len(_CODECS) - 1
    _CODECS.insert(index, codec)


def codec_for(media_type: str) -> Codec:
    """The codec that decodes ``media_type``."""
    for codec in _CODECS:
        if media_type in codec.media_types:
            return codec
    raise InvalidInputError(
        f"no codec for media type {media_type!r}; known: "
        f"{sorted(m for c in _CODECS for m in c.media_types)}",
        found=media_type,
    )


def is_pickle_media_type(media_type: str | None) -> bool:
    """Whether loading this media type runs pickle."""
    return media_type in _PICKLE_TYPES


def encode(obj: Any) -> Encoded:
    """Encode ``obj`` with the first codec that accepts it (see the module table)."""
    for codec in _CODECS:
        if codec.accepts(obj):
            encoded = codec.encode(obj)
            if encoded is not None:
                return encoded
    raise InvalidInputError(f"no codec accepts {type(obj).__name__}")  # pragma: no cover


def sniff_media_type(data: bytes) -> str:
    """Guess the media type of stored bytes from their first bytes (for bare digests)."""
    if data.startswith(b"\x93NUMPY"):
        return NPY
    if data.startswith(b"PAR1"):
        return PARQUET
    if data[:1] == b"\x80":
        return CLOUDPICKLE
    try:
        payload = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return RAW
    if (
        isinstance(payload, dict)
        and set(payload) == {"type", "data"}
        and ":" in str(payload["type"])
    ):
        return PYDANTIC
    return JSON


def decode(
    data: bytes, media_type: str | None, *, trusted: bool = False, name: str | None = None
) -> Any:
    """Decode stored bytes.

    Args:
        data: the stored bytes (already verified against their digest).
        media_type: how they were encoded (None: sniffed from the bytes).
        trusted: pickle codecs raise :class:`UntrustedObjectError` unless trusted; the
            pydantic codec imports the module a record names only if trusted, already
            imported, or allowed (:func:`allow_pydantic_module`).
        name: what the bytes are (a digest or ref name), for errors; default: their
            digest.

    Raises:
        UntrustedObjectError: loading would run code that is not trusted.
        IntegrityError: the bytes do not decode as ``media_type`` (names the object).
    """
    media = media_type or sniff_media_type(data)
    codec = codec_for(media)
    if (codec.is_pickle or is_pickle_media_type(media)) and not trusted:
        raise UntrustedObjectError(
            f"refusing to unpickle an object of type {media!r}: loading a pickle runs code. "
            "Pass trusted=True if you trust where this object came from.",
            media_type=media,
        )
    try:
        if codec.trust_aware:
            return codec.decode(data, media, trusted=trusted)
        return codec.decode(data, media)
    except (MlopskitError, ImportError):
        raise
    except Exception as exc:
        what = name if name is not None else digest_bytes(data)
        raise IntegrityError(
            f"stored object {what} does not decode as {media!r} ({type(exc).__name__}: "
            f"{exc}); it is damaged, or its media type is wrong. Run store.verify() and "
            "restore it from a backup.",
            digest=what if name is None else None,
            path=name,
            expected=media,
            found=type(exc).__name__,
        ) from exc
