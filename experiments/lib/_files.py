"""Small fsspec helpers shared by the pipeline stages: join, read and write whole files by URL.

Every path is an fsspec URL or a local path. Writes create missing parent directories. These helpers do not
write atomically and take no lock: the caller (or the executor around it) owns commit order.
"""

from __future__ import annotations

import io
import json
from typing import Any

import fsspec
import numpy as np


def join(root: str, name: str) -> str:
    """``root/name`` for local paths and URLs alike (``memory://a`` + ``b`` -> ``memory://a/b``)."""
    return f"{root.rstrip('/')}/{name}"


def exists(path: str) -> bool:
    fs, fs_path = fsspec.core.url_to_fs(path)
    return bool(fs.exists(fs_path))


def read_bytes(path: str) -> bytes:
    with fsspec.open(path, "rb") as f:
        return f.read()


def write_bytes(path: str, data: bytes) -> None:
    with fsspec.open(path, "wb") as f:
        f.write(data)


def read_text(path: str) -> str:
    return read_bytes(path).decode("utf-8")


def write_text(path: str, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def read_json(path: str) -> Any:
    return json.loads(read_text(path))


def write_json(path: str, value: Any) -> None:
    write_text(path, json.dumps(value, indent=2, sort_keys=True) + "\n")


def read_npy(path: str) -> np.ndarray:
    return np.load(io.BytesIO(read_bytes(path)), allow_pickle=False)


def write_npy(path: str, array: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    write_bytes(path, buffer.getvalue())


def read_npz(path: str) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(read_bytes(path)), allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def write_npz(path: str, arrays: dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    named: dict[str, Any] = dict(arrays)  # numpy's stub types **kwds as if they could be its own keywords
    np.savez_compressed(buffer, **named)
    write_bytes(path, buffer.getvalue())


def require(path: str, what: str, fix: str) -> str:
    """Return ``path`` if it exists, else raise FileNotFoundError naming what was expected and how to fix it."""
    if not exists(path):
        raise FileNotFoundError(f"{what} not found at {path}: {fix}")
    return path


def read_metadata(root: str) -> dict[str, Any]:
    """``root/metadata.json`` (the lineage of hyperparameters a stage wrote), or {} if there is none."""
    path = join(root, "metadata.json")
    return dict(read_json(path)) if exists(path) else {}
