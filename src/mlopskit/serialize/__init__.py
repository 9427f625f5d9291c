"""Codecs: how objects become bytes in the store, and back.

Tried in order, first match wins:

| object | codec | media type |
| --- | --- | --- |
| ``bytes``, ``bytearray``, ``memoryview`` | raw | ``application/octet-stream`` |
| ``numpy.ndarray`` (not ``object`` dtype) | ``.npy``, ``allow_pickle=False`` | ``application/x-npy`` |
| ``pandas.DataFrame`` / ``Series`` | Parquet (pyarrow) | ``application/vnd.apache.parquet`` |
| ... without pyarrow, or not Parquet-able | pandas pickle (a pickle codec) | ``application/vnd.mlopskit.pandas+pickle`` |
| ``pydantic.BaseModel`` | JSON of ``model_dump`` + class path | ``application/vnd.mlopskit.pydantic+json`` |
| JSON-able values (``None``, bool, int, finite float, str, list, dict with str keys) | canonical JSON | ``application/json`` |
| anything else | cloudpickle (a pickle codec) | ``application/vnd.mlopskit.cloudpickle`` |

Pickle codecs execute code when loaded; the store only loads them when trusted. The
pydantic codec names its class by ``module:qualname``; untrusted, it resolves only
classes of modules already imported or allowed by :func:`allow_pydantic_module`
(importing a module runs its code). Bytes that do not decode raise
:class:`~mlopskit.errors.IntegrityError` naming the object.
"""

from mlopskit.serialize._codecs import SKOPS as SKOPS_MEDIA_TYPE
from mlopskit.serialize._codecs import (
    Codec,
    Encoded,
    allow_pydantic_module,
    canonical_json,
    codec_for,
    decode,
    encode,
    is_pickle_media_type,
    register_codec,
    sniff_media_type,
)

__all__ = [
    "SKOPS_MEDIA_TYPE",
    "Codec",
    "Encoded",
    "allow_pydantic_module",
    "canonical_json",
    "codec_for",
    "decode",
    "encode",
    "is_pickle_media_type",
    "register_codec",
    "sniff_media_type",
]
