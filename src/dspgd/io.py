"""Deterministic, atomic file writers for the pipeline's outputs.

Every writer produces the same bytes for the same content: no timestamps,
and sorted keys. It writes through a temporary file in the target directory
and renames it into place, so an interrupted job never leaves a partial file
under the final name.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from dspgd.data import Problem

__all__ = [
    "atomic_path",
    "file_sha256",
    "load_npz",
    "load_problem",
    "write_bytes",
    "write_json",
    "write_npz",
    "write_text",
]

# Zip entries need a date; 1980-01-01 is the earliest the format can store.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` and rename it to ``path`` if the block succeeds.

    Temporary files that an earlier, killed writer of ``path`` left behind are removed first.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A writer killed before its rename (SIGKILL, power loss) leaves its temporary
    # file behind. Snakemake runs one job per output, so earlier ones are stale.
    for stale in target.parent.glob(f".{glob.escape(target.name)}.*.partial"):
        stale.unlink(missing_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    os.close(handle)
    # mkstemp creates the file readable by its owner only; give it the mode open() would.
    os.chmod(temporary, 0o666 & ~_umask())
    try:
        yield Path(temporary)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike[str], payload: Any) -> None:
    """Write ``payload`` as indented JSON with sorted keys, atomically."""
    write_text(path, json.dumps(payload, indent=2, sort_keys=True, allow_nan=True) + "\n")


def write_npz(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray]) -> None:
    """Write arrays to an uncompressed ``.npz`` with fixed entry dates, in sorted key order.

    Object arrays are rejected, so the file loads with ``allow_pickle=False``.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, mode="w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(arrays):
            array = np.asarray(arrays[name])
            if array.dtype.hasobject:
                raise TypeError(f"array {name!r} has dtype object; convert it to a numeric or fixed-width string dtype")
            member = io.BytesIO()
            np.lib.format.write_array(member, array, allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            archive.writestr(info, member.getvalue())
    write_bytes(path, buffer.getvalue())


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Return the SHA-256 of a file's bytes as hexadecimal."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Load every array of an ``.npz`` file without allowing pickled objects."""
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def load_problem(path: str | os.PathLike[str]) -> Problem:
    """Load a data set replicate written by the pipeline's ``data`` rule."""
    arrays = load_npz(path)
    seed = json.loads(str(arrays["provenance"]))["seeds"]
    return Problem(X=arrays["X"], Y=arrays["Y"], W0=arrays["W0"], seed=seed)
