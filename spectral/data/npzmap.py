"""Memory-map an array stored uncompressed inside an .npz archive (np.savez)."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import numpy as np

__all__: list[str] = []


def _npz_memmap(path: Path, key: str) -> np.ndarray | None:
    """``key`` of the archive as a read-only memory map, or None when it cannot be mapped.

    ``np.load(mmap_mode=...)`` ignores the mode for .npz archives. An array written by
    ``np.savez`` is stored (not deflated) in the zip, so its bytes lie contiguously in
    the file after the zip's local header and the .npy header: map them directly. A
    compressed member (``np.savez_compressed``), a Fortran-ordered or object array, or
    anything unexpected gives None and the caller reads the array the ordinary way.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(f"{key}.npy")
        if info.compress_type != zipfile.ZIP_STORED:
            return None
        with open(path, "rb") as fh:
            fh.seek(info.header_offset)
            local = fh.read(30)
            if local[:4] != b"PK\x03\x04":
                return None
            name_len, extra_len = struct.unpack("<HH", local[26:30])
            fh.seek(info.header_offset + 30 + name_len + extra_len)
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                return None
            offset = fh.tell()
        if fortran or dtype.hasobject or int(np.prod(shape)) == 0:
            return None
        return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=tuple(shape))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, struct.error):
        return None
