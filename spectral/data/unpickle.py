"""A restricted unpickler for CIFAR-10 batches: builds arrays itself, runs no code."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from spectral.errors import ImageReadError


class _RefusedError(pickle.UnpicklingError):
    """The pickle asks for something outside the allow-list."""


_PLAIN_DTYPES = frozenset({"b1", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f2", "f4", "f8"})


def _text(value: Any, what: str) -> str:
    if isinstance(value, bytes):  # Python 2 pickles (``encoding="bytes"``)
        value = value.decode("latin1")
    if not isinstance(value, str):
        raise _RefusedError(f"{what}: expected a string, got {type(value).__name__}")
    return value


class _DtypeStub:
    """Stands in for ``numpy.dtype(descr, align, copy)``; plain numeric dtypes only."""

    def __init__(self, descr: Any, align: Any = False, copy: Any = True) -> None:
        self.descr = _text(descr, "dtype")
        if self.descr not in _PLAIN_DTYPES:
            raise _RefusedError(f"dtype {self.descr!r} is not allowed (plain numbers only)")
        self.byteorder = "="

    def __setstate__(self, state: Any) -> None:
        # (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
        if not isinstance(state, tuple) or len(state) < 5 or any(s is not None for s in state[2:5]):
            raise _RefusedError("dtype state: only plain (non-structured) dtypes are allowed")
        self.byteorder = _text(state[1], "dtype byte order")
        if self.byteorder not in ("<", ">", "|", "="):
            raise _RefusedError(f"dtype byte order {self.byteorder!r}")

    def build(self) -> np.dtype:
        dt = np.dtype(self.descr)
        if self.byteorder == "<":
            return dt.newbyteorder("<")
        return dt.newbyteorder(">") if self.byteorder == ">" else dt


def _shape(value: Any) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, tuple) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in value
    ):
        raise _RefusedError(f"array shape: expected a tuple of sizes, got {value!r:.60}")
    return value


class _ArrayStub:
    """Stands in for an ndarray: ``_reconstruct(ndarray, ...)`` + ``__setstate__``."""

    def __init__(self) -> None:
        self.shape: tuple[int, ...] | None = None
        self.dtype: _DtypeStub | None = None
        self.fortran = False
        self.raw: bytes | bytearray = b""

    def __setstate__(self, state: Any) -> None:
        # (version, shape, dtype, is_fortran, rawdata) or, from old numpy, without version
        if isinstance(state, tuple) and len(state) == 5:
            state = state[1:]
        if not isinstance(state, tuple) or len(state) != 4:
            raise _RefusedError("array state: expected (shape, dtype, is_fortran, data)")
        self.set(*state)

    def set(self, shape: Any, dtype: Any, fortran: Any, raw: Any) -> None:
        if not isinstance(dtype, _DtypeStub):
            raise _RefusedError(f"array dtype: expected numpy.dtype, got {type(dtype).__name__}")
        if not isinstance(raw, (bytes, bytearray)):
            raise _RefusedError(f"array data: expected bytes, got {type(raw).__name__}")
        self.shape, self.dtype, self.fortran, self.raw = _shape(shape), dtype, bool(fortran), raw

    def build(self) -> np.ndarray:
        if self.shape is None or self.dtype is None:
            raise _RefusedError("array without state")
        dt = self.dtype.build()
        count = int(np.prod(self.shape, dtype=np.int64))
        if len(self.raw) != count * dt.itemsize:
            raise _RefusedError(
                f"array data: expected {count * dt.itemsize} bytes for shape {self.shape} "
                f"{dt}, got {len(self.raw)}"
            )
        flat = np.frombuffer(self.raw, dtype=dt, count=count)
        return flat.reshape(self.shape, order="F" if self.fortran else "C").copy()


class _ScalarStub:
    """Stands in for ``numpy.core.multiarray.scalar(dtype, data)`` (e.g. an ``np.int64``)."""

    def __init__(self, dtype: Any, raw: Any = None) -> None:
        if not isinstance(dtype, _DtypeStub) or not isinstance(raw, (bytes, bytearray)):
            raise _RefusedError("numpy scalar: expected (dtype, bytes)")
        self.dtype, self.raw = dtype, raw

    def build(self) -> Any:
        dt = self.dtype.build()
        if len(self.raw) != dt.itemsize:
            raise _RefusedError(f"numpy scalar: expected {dt.itemsize} bytes, got {len(self.raw)}")
        return np.frombuffer(self.raw, dtype=dt, count=1)[0]


def _reconstruct(subtype: Any, shape: Any = (0,), typecode: Any = b"b") -> _ArrayStub:
    if subtype is not _ArrayStub:
        raise _RefusedError("_reconstruct: only numpy.ndarray may be reconstructed")
    return _ArrayStub()


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: Any = "C") -> _ArrayStub:
    stub = _ArrayStub()
    stub.set(shape, dtype, _text(order, "array order") == "F", bytes(buf))
    return stub


_LATIN1 = ("latin1", "latin-1")


def _latin1_encode(text: Any, encoding: Any = "latin1") -> bytes:
    # Python 3 pickles ``bytes`` at protocol 2 as ``_codecs.encode(str, "latin1")``
    if encoding not in _LATIN1 or not isinstance(text, str):
        raise _RefusedError(f"_codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


def _empty_bytes(*args: Any) -> bytes:
    # ... and an empty ``bytes`` as ``bytes()``; ``bytes(n)`` would allocate n bytes
    if args:
        raise _RefusedError("bytes() with arguments")
    return b""


def _bytearray(data: Any = b"", encoding: Any = None) -> bytearray:
    # ``bytearray(str, "latin-1")`` at protocol 2, ``bytearray(bytes)`` at 3 and 4
    if isinstance(data, str) and encoding in _LATIN1:
        return bytearray(data.encode("latin1"))
    if isinstance(data, (bytes, bytearray)) and encoding is None:
        return bytearray(data)
    raise _RefusedError(f"bytearray from {type(data).__name__}")


_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): _ArrayStub,
    ("numpy", "dtype"): _DtypeStub,
    ("_codecs", "encode"): _latin1_encode,
    **{(b, "bytes"): _empty_bytes for b in ("builtins", "__builtin__")},
    **{(b, "bytearray"): _bytearray for b in ("builtins", "__builtin__")},
    **{(f"numpy.{c}.multiarray", "_reconstruct"): _reconstruct for c in ("core", "_core")},
    **{(f"numpy.{c}.multiarray", "scalar"): _ScalarStub for c in ("core", "_core")},
    **{(f"numpy.{c}.numeric", "_frombuffer"): _frombuffer for c in ("core", "_core")},
}


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that builds only containers, strings, numbers and numpy arrays.

    ``find_class`` is the only way a pickle reaches code: every global outside
    :data:`_ALLOWED_GLOBALS` (``os.system``, ``builtins.eval``, ...) is refused, and the
    allowed numpy names resolve to checking stand-ins rather than numpy itself.
    """

    def find_class(self, module: str, name: str) -> Any:
        """Return the stand-in for an allow-listed global; refuse everything else."""
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise _RefusedError(
                f"global {module}.{name} is not allowed (only numpy arrays, numbers, strings "
                "and containers are)"
            ) from None


def _finish(obj: Any) -> Any:
    """Replace the stand-ins in an unpickled object by real numpy arrays and scalars."""
    if isinstance(obj, (_ArrayStub, _ScalarStub, _DtypeStub)):
        return obj.build()
    if isinstance(obj, dict):
        return {_finish(k): _finish(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finish(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_finish(v) for v in obj)
    return obj


def _read_pickle(path: Path) -> Any:
    if not path.is_file():
        raise ImageReadError(
            f"{path}: no such file (a CIFAR-10 python batches directory holds data_batch_1 "
            "... data_batch_5, test_batch and batches.meta)"
        )
    try:
        with path.open("rb") as fh:
            return _finish(_RestrictedUnpickler(fh, encoding="bytes").load())
    except _RefusedError as err:
        raise ImageReadError(f"{path}: refused to unpickle: {err}") from None
    except OSError as err:
        raise ImageReadError(f"{path}: cannot read ({err.strerror or err})") from None
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        OverflowError,
        RecursionError,
        MemoryError,
    ) as err:
        raise ImageReadError(
            f"{path}: not a readable pickle, corrupt or truncated ({type(err).__name__}: {err})"
        ) from None
