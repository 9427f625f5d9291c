"""Stable content hashing of Python values, for ``@versioned`` keys and lineage.

Equal content gives an equal digest in every process and on every machine; the
encoding is a typed, length-prefixed token stream fed straight into the hasher, so
big buffers are never copied or pickled:

- numpy arrays: dtype, shape and the raw buffer (zero-copy when C-contiguous);
- pandas objects: per column dtype and values (buffers, or exact UTF-8 for strings),
  column names, the index and its names — never through pickle, so frames that
  compare equal hash equal (joblib#1611);
- mappings: order-insensitive (``OrderedDict``: ordered), sets likewise;
- pydantic models and dataclasses: their class and fields; store refs by digest;
- paths: the path and the content of the file or directory it names.

Anything else raises :class:`~mlopskit.errors.UnhashableArgumentError` naming the
argument: a value that cannot be hashed stably is an error, never a silent miss.

With ``sha256``, buffers of 8 MiB and more are hashed as a tree (4 MiB leaves
hashed in parallel threads; hashlib releases the GIL), which keeps keys identical on
every machine while using every core. ``blake3`` (``pymlopskit[fast]``) is
multi-threaded internally.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import fractions
import functools
import hashlib
import math
import os
import struct
import sys
import threading
import types
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mlopskit.errors import InvalidInputError, UnhashableArgumentError
from mlopskit.hashing import Hasher

__all__ = ["ALGORITHMS", "digest_value", "new_value_hasher"]

ALGORITHMS = ("sha256", "blake3")
#: Buffers at least this large are hashed as a tree of LEAF-sized parallel digests.
TREE_MIN = 8 * 1024 * 1024
LEAF = 4 * 1024 * 1024
_Q = struct.Struct("<Q")
_D = struct.Struct("<d")

_pool: list[ThreadPoolExecutor] = []
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    with _pool_lock:
        if not _pool:
            workers = max(1, min(8, os.cpu_count() or 1))
            _pool.append(ThreadPoolExecutor(workers, thread_name_prefix="mlopskit-hash"))
        return _pool[0]


def new_value_hasher(algorithm: str = "sha256") -> Hasher:
    """A fresh hasher for ``algorithm``; blake3 uses every core on large updates."""
    if algorithm == "sha256":
        return hashlib.sha256()
    if algorithm == "blake3":
        from mlopskit._optional import import_optional

        mod = import_optional("blake3", "fast", purpose="hash='blake3'")
        h: Hasher = mod.blake3(max_threads=mod.blake3.AUTO)
        return h
    raise InvalidInputError(
        f"unknown hash algorithm {algorithm!r}; expected one of {list(ALGORITHMS)}",
        found=algorithm,
    )


def digest_value(value: Any, *, algorithm: str = "sha256", name: str = "argument") -> str:
    """The stable content digest of ``value``: ``"<algorithm>:<hex>"``.

    Args:
        value: the value to hash (see the module docstring for what is supported).
        algorithm: ``sha256`` (default) or ``blake3`` (extra ``pymlopskit[fast]``).
        name: how to name the value in an error (an argument name).

    Raises:
        UnhashableArgumentError: some part of ``value`` has no stable content hash.
    """
    feeder = _Feeder(algorithm)
    feeder.feed(value, name)
    return f"{algorithm}:{feeder.hexdigest()}"


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


class _Feeder:
    """Feeds a typed token stream of one value into one hasher."""

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self.h = new_value_hasher(algorithm)
        self._active: set[int] = set()

    def hexdigest(self) -> str:
        return self.h.hexdigest()

    # -- primitives ---------------------------------------------------------------------

    def tok(self, tag: bytes, payload: bytes | memoryview = b"") -> None:
        self.h.update(tag + _Q.pack(len(payload)))
        if payload:
            self.h.update(payload)

    def text(self, value: str) -> None:
        self.tok(b"s", value.encode("utf-8", "surrogatepass"))

    def buffer(self, view: memoryview) -> None:
        """Raw bytes; big buffers as a tree of parallel sha256 leaves (see module doc)."""
        n = view.nbytes
        if n < TREE_MIN or self.algorithm != "sha256":
            self.tok(b"B", view)
            return
        leaves = [view[i : i + LEAF] for i in range(0, n, LEAF)]
        digests = list(_executor().map(lambda c: hashlib.sha256(c).digest(), leaves))
        self.h.update(b"T" + _Q.pack(n) + _Q.pack(LEAF))
        self.h.update(b"".join(digests))

    def sub(self, value: Any, path: str) -> bytes:
        """The digest of ``value`` on its own (for order-insensitive containers)."""
        child = _Feeder(self.algorithm)
        child._active = self._active
        child.feed(value, path)
        return bytes.fromhex(child.hexdigest())

    # -- dispatch -----------------------------------------------------------------------

    def feed(self, obj: Any, path: str) -> None:
        t = type(obj)
        simple = _SIMPLE.get(t)
        if simple is not None:
            simple(self, obj)
            return
        if "numpy" in sys.modules:
            import numpy as np

            if isinstance(obj, np.ndarray):
                self.ndarray(obj, path)
                return
            if isinstance(obj, np.generic):
                self.tok(b"g", obj.dtype.str.encode())
                self.numpy_scalar(obj, path)
                return
        if "pandas" in sys.modules and self.pandas(obj, path):
            return
        digest = _known_digest(obj)
        if digest is not None:
            self.tok(b"R", digest.encode())
            return
        ident = id(obj)
        if ident in self._active:
            raise UnhashableArgumentError(
                f"cannot hash {path}: it contains itself (a reference cycle)", argument=path
            )
        self._active.add(ident)
        try:
            self.composite(obj, path)
        finally:
            self._active.discard(ident)

    def numpy_scalar(self, obj: Any, path: str) -> None:
        import numpy as np

        arr = np.asarray(obj)
        if arr.dtype.hasobject:
            self.feed(obj.item(), path)
        else:
            self.tok(b"v", arr.tobytes())

    def composite(self, obj: Any, path: str) -> None:
        if isinstance(obj, (list, tuple)):
            self.tok(b"l" if isinstance(obj, list) else b"t", _Q.pack(len(obj)))
            for i, item in enumerate(obj):
                self.feed(item, f"{path}[{i}]")
            return
        if isinstance(obj, OrderedDict):
            self.tok(b"o", _Q.pack(len(obj)))
            for k, v in obj.items():
                self.feed(k, f"{path} key")
                self.feed(v, f"{path}[{k!r}]")
            return
        if isinstance(obj, Mapping):
            pairs = sorted(
                self.sub(k, f"{path} key") + self.sub(v, f"{path}[{k!r}]") for k, v in obj.items()
            )
            self.tok(b"d", b"".join(pairs))
            return
        if isinstance(obj, (set, frozenset)):
            items = sorted(self.sub(v, f"{path} item") for v in obj)
            self.tok(b"S", b"".join(items))
            return
        if "pydantic" in sys.modules:
            from pydantic import BaseModel

            if isinstance(obj, BaseModel):
                self.text(_qualname(type(obj)))
                fields = {k: getattr(obj, k) for k in type(obj).model_fields}
                fields.update(obj.model_extra or {})
                self.tok(b"P", _Q.pack(len(fields)))
                for k, v in fields.items():
                    self.text(k)
                    self.feed(v, f"{path}.{k}")
                return
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            self.text(_qualname(type(obj)))
            dc_fields = dataclasses.fields(obj)
            self.tok(b"C", _Q.pack(len(dc_fields)))
            for f in dc_fields:
                self.text(f.name)
                self.feed(getattr(obj, f.name), f"{path}.{f.name}")
            return
        if isinstance(obj, enum.Enum):
            self.tok(b"E", _qualname(type(obj)).encode())
            self.feed(obj.value, f"{path}.value")
            return
        if isinstance(obj, os.PathLike):
            self.path(obj, path)
            return
        for base in (str, int, float, bytes):
            if isinstance(obj, base):  # a subclass of a plain type: its class and value
                self.text(_qualname(type(obj)))
                plain: Any = base
                _SIMPLE[base](self, plain(obj))
                return
        if isinstance(obj, functools.partial):
            self.tok(b"p")
            self.feed(obj.func, f"{path}.func")
            self.feed(obj.args, f"{path}.args")
            self.feed(obj.keywords, f"{path}.keywords")
            return
        if isinstance(obj, types.FunctionType):
            from mlopskit.versioning._code import fingerprint

            self.tok(b"F", _qualname(obj).encode())
            self.text(fingerprint(obj).digest)
            return
        if isinstance(obj, (type, types.BuiltinFunctionType, types.ModuleType)):
            self.tok(b"Q", (getattr(obj, "__name__", "") + " " + _qualname(obj)).encode())
            return
        raise UnhashableArgumentError(
            f"cannot hash {path}: objects of type {_qualname(type(obj))} have no stable "
            "content hash. Leave it out of the key with ignore=[...], or pass a value "
            "mlopskit can hash (numpy, pandas, pydantic, dataclasses, plain values, "
            "paths, store refs)",
            argument=path,
            type=_qualname(type(obj)),
        )

    # -- numpy ----------------------------------------------------------------------------

    def ndarray(self, arr: Any, path: str) -> None:
        import numpy as np

        if isinstance(arr, np.ma.MaskedArray):
            self.tok(b"m")
            self.ndarray(np.ma.getmaskarray(arr), f"{path}.mask")
            masked: Any = arr
            arr = masked.filled(np.zeros((), arr.dtype) if not arr.dtype.hasobject else None)
        self.tok(b"A", f"{arr.dtype.descr if arr.dtype.fields else arr.dtype.str}".encode())
        self.tok(b"h", b"".join(_Q.pack(n) for n in arr.shape))
        if arr.dtype.hasobject:
            for i, item in enumerate(arr.reshape(-1)):
                self.feed(item, f"{path}[{i}]")
            return
        flat = np.ascontiguousarray(arr).reshape(-1)
        self.buffer(flat.view(np.uint8).data if flat.size else memoryview(b""))

    # -- pandas ---------------------------------------------------------------------------

    def pandas(self, obj: Any, path: str) -> bool:
        import pandas as pd

        if isinstance(obj, pd.DataFrame):
            self.tok(b"DF", _Q.pack(obj.shape[0]) + _Q.pack(obj.shape[1]))
            self.index(obj.columns, f"{path}.columns")
            for i in range(obj.shape[1]):
                self.column(obj.iloc[:, i], f"{path}[{obj.columns[i]!r}]")
            self.index(obj.index, f"{path}.index")
            return True
        if isinstance(obj, pd.Series):
            self.tok(b"SE")
            self.feed(obj.name, f"{path}.name")
            self.column(obj, path)
            self.index(obj.index, f"{path}.index")
            return True
        if isinstance(obj, pd.Index):
            self.index(obj, path)
            return True
        if isinstance(obj, pd.api.extensions.ExtensionArray):
            self.tok(b"EA", str(obj.dtype).encode())
            self.values(obj, path)
            return True
        if obj is pd.NaT:
            self.tok(b"NaT")
            return True
        if obj is pd.NA:
            self.tok(b"NA")
            return True
        if isinstance(obj, (pd.Timestamp, pd.Timedelta, pd.Period, pd.Interval)):
            self.tok(b"PS", f"{type(obj).__name__}:{obj!r}".encode())
            return True
        return False

    def index(self, idx: Any, path: str) -> None:
        import numpy as np
        import pandas as pd

        if isinstance(idx, pd.MultiIndex):
            self.tok(b"MI", _Q.pack(idx.nlevels))
            for level in range(idx.nlevels):
                self.index(idx.get_level_values(level), f"{path}.levels[{level}]")
            return
        self.tok(b"IX", str(idx.dtype).encode())
        self.feed(idx.name, f"{path}.name")
        if isinstance(idx, pd.RangeIndex):  # content, not representation
            self.values(np.arange(idx.start, idx.stop, idx.step, dtype=np.int64), path)
        else:
            self.values(idx.array, path)

    def column(self, series: Any, path: str) -> None:
        self.tok(b"c", str(series.dtype).encode())
        self.values(series.array, path)

    def values(self, arr: Any, path: str) -> None:
        """One column's values: buffers where possible, exact and copy-light."""
        import numpy as np
        import pandas as pd

        if isinstance(arr, pd.Categorical):
            self.tok(b"cat", b"1" if arr.ordered else b"0")
            self.index(arr.categories, f"{path}.categories")
            self.ndarray(arr.codes, path)
            return
        if isinstance(arr, pd.api.extensions.ExtensionArray) and isinstance(
            arr.dtype, pd.StringDtype
        ):
            self.string_array(arr)
            return
        if isinstance(arr, pd.arrays.NumpyExtensionArray):
            arr = arr.to_numpy()
        if isinstance(arr, np.ndarray):
            if arr.dtype.hasobject and pd.api.types.infer_dtype(arr, skipna=True) == "string":
                mask = np.asarray(pd.isna(arr), dtype=bool)
                self.strings(np.where(mask, "", arr), mask)
            else:
                self.ndarray(arr, path)
            return
        if hasattr(arr, "asi8"):  # datetimes (tz-aware too), timedeltas, periods
            self.ndarray(np.asarray(arr.asi8), path)
            return
        if isinstance(arr, pd.api.extensions.ExtensionArray) and hasattr(arr.dtype, "numpy_dtype"):
            mask = np.asarray(arr.isna(), dtype=bool)
            try:
                data = arr.to_numpy(dtype=arr.dtype.numpy_dtype, na_value=0)
            except (TypeError, ValueError):
                data = None
            if data is not None:  # masked (nullable) arrays: data under the mask is ignored
                self.tok(b"msk")
                self.ndarray(mask, path)
                self.ndarray(data, path)
                return
        self.tok(b"obj")
        self.ndarray(np.asarray(arr, dtype=object), path)

    def string_array(self, arr: Any) -> None:
        import numpy as np

        if "pyarrow" in sys.modules or _have_pyarrow():
            import pyarrow as pa

            try:
                pa_arr = pa.array(arr)
            except (TypeError, ValueError, pa.ArrowException):
                pa_arr = None
            if pa_arr is not None and (
                pa.types.is_string(pa_arr.type) or pa.types.is_large_string(pa_arr.type)
            ):
                if isinstance(pa_arr, pa.ChunkedArray):
                    pa_arr = pa_arr.combine_chunks()
                mask = pa_arr.is_null().to_numpy(zero_copy_only=False)
                filled = pa_arr.fill_null("") if pa_arr.null_count else pa_arr
                bufs = filled.buffers()
                width = np.int64 if pa.types.is_large_string(filled.type) else np.int32
                offsets = np.frombuffer(bufs[1], dtype=width)[
                    filled.offset : filled.offset + len(filled) + 1
                ]
                lengths = np.diff(offsets).astype(np.int64, copy=False)
                data = memoryview(bufs[2] if bufs[2] is not None else b"")
                self.tok(b"str")
                self.ndarray(mask, "mask")
                self.ndarray(lengths, "lengths")
                self.buffer(data[int(offsets[0]) : int(offsets[-1])] if len(offsets) else data[:0])
                return
        mask = np.asarray(arr.isna(), dtype=bool)
        values = np.asarray(arr.to_numpy(dtype=object, na_value=""), dtype=object)
        self.strings(values, mask)

    def strings(self, values: Any, mask: Any) -> None:
        import numpy as np

        encoded = [str(v).encode("utf-8", "surrogatepass") for v in values]
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        self.tok(b"str")
        self.ndarray(np.asarray(mask, dtype=bool), "mask")
        self.ndarray(lengths, "lengths")
        self.buffer(memoryview(b"".join(encoded)))

    # -- paths ----------------------------------------------------------------------------

    def path(self, obj: os.PathLike[str], path: str) -> None:
        p = os.fspath(obj)
        self.tok(b"path", os.path.abspath(p).encode("utf-8", "surrogateescape"))
        if os.path.isfile(p):
            self.file(p)
        elif os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs.sort()
                for name in sorted(files):
                    full = os.path.join(root, name)
                    self.text(os.path.relpath(full, p).replace(os.sep, "/"))
                    self.file(full)
        else:
            self.tok(b"missing")

    def file(self, p: str) -> None:
        h = new_value_hasher(self.algorithm)
        buf = bytearray(1024 * 1024)
        view = memoryview(buf)
        with open(p, "rb", buffering=0) as f:
            while n := f.readinto(buf):
                h.update(view[:n])
        self.tok(b"file", bytes.fromhex(h.hexdigest()))


@functools.lru_cache(maxsize=1)
def _have_pyarrow() -> bool:
    from mlopskit._optional import is_available

    return is_available("pyarrow")


def _known_digest(obj: Any) -> str | None:
    """Store refs and objects that name stored content (datasets, model versions)."""
    if "mlopskit.store" in sys.modules:
        from mlopskit.store import ArtifactRef

        if isinstance(obj, ArtifactRef):
            return obj.digest
    digest = getattr(type(obj), "__mlopskit_digest__", None)
    if digest is not None and not isinstance(obj, type):
        value = getattr(obj, "__mlopskit_digest__", None)
        return value if isinstance(value, str) else None
    return None


def _float(f: _Feeder, x: float) -> None:
    f.tok(b"f", b"nan" if math.isnan(x) else _D.pack(x))


def _complex(f: _Feeder, x: complex) -> None:
    f.tok(b"j")
    _float(f, x.real)
    _float(f, x.imag)


_SIMPLE: dict[type, Callable[[_Feeder, Any], None]] = {
    type(None): lambda f, x: f.tok(b"N"),
    bool: lambda f, x: f.tok(b"b1" if x else b"b0"),
    int: lambda f, x: f.tok(b"i", str(x).encode()),
    float: _float,
    complex: _complex,
    str: lambda f, x: f.text(x),
    bytes: lambda f, x: f.tok(b"y", x),
    bytearray: lambda f, x: f.tok(b"y", bytes(x)),
    memoryview: lambda f, x: f.tok(b"y", x.cast("B") if x.ndim else x.tobytes()),
    range: lambda f, x: f.tok(b"r", _Q.pack(len(x)) + repr(x).encode()),
    slice: lambda f, x: f.tok(b"sl", repr(x).encode()),
    dt.datetime: lambda f, x: f.tok(b"dt", x.isoformat().encode()),
    dt.date: lambda f, x: f.tok(b"da", x.isoformat().encode()),
    dt.time: lambda f, x: f.tok(b"ti", x.isoformat().encode()),
    dt.timedelta: lambda f, x: f.tok(b"td", repr(x).encode()),
    decimal.Decimal: lambda f, x: f.tok(b"dec", str(x).encode()),
    fractions.Fraction: lambda f, x: f.tok(b"fr", str(x).encode()),
    uuid.UUID: lambda f, x: f.tok(b"uu", x.bytes),
    type(Ellipsis): lambda f, x: f.tok(b"..."),
}
