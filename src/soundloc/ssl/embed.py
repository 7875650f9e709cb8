"""Clip embeddings of audio files from a pretrained encoder, written as ``.npy`` or ``.parquet``.

Each file gives one embedding ``(D,)``: the encoder's frame embeddings of the whole file averaged
over time. Files must come from the encoder's array at its sample rate with its channel count:
another rate or channel count is refused (no silent resampling); with ``array=`` the array is
checked against the encoder's too.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from soundloc.audio import read_audio
from soundloc.fileio import atomic_path
from soundloc.geometry import get_array
from soundloc.ssl.model import SpatialEncoder

FORMATS = (".npy", ".parquet")


@torch.no_grad()
def embed_files(encoder: SpatialEncoder, files: Sequence[str | os.PathLike[str]], *, array: str | None = None,
                device: str | torch.device = "cpu") -> np.ndarray:
    """``(len(files), D)`` float32 embeddings.

    Raises:
        ValueError: no files, a file from another rate / channel count (``AudioError``), ``array`` not
            the encoder's.
    """
    if encoder.config is None:
        raise ValueError("the encoder has no config (load it with soundloc.ssl.load_encoder)")
    spec = encoder.config.input
    if array is not None:
        spec.check_input(get_array(array), spec.fs)
    if not files:
        raise ValueError("no audio files to embed")
    dev = torch.device(device)
    enc = encoder.to(dev).eval()
    feat = spec.feature_module().to(dev)
    out = []
    for f in files:
        x, _ = read_audio(f, fs=spec.fs, channels=spec.num_channels, resample=False, allow_silent=True)
        out.append(enc(feat(torch.from_numpy(x)[None].to(dev))).float().cpu().numpy()[0])
    return np.stack(out).astype(np.float32)


def write_embeddings(path: str | os.PathLike[str], files: Sequence[str | os.PathLike[str]], emb: np.ndarray) -> Path:
    """Write ``emb`` ``(N, D)`` atomically: ``.npy`` (the array; file order as given) or ``.parquet``
    (columns ``file`` and ``embedding``, needs ``pyarrow``)."""
    p = Path(path)
    if p.suffix not in FORMATS:
        raise ValueError(f"output '{p}' must end in .npy or .parquet")
    if p.suffix == ".parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise ValueError("writing .parquet needs the pyarrow package (pip install pyarrow), or write .npy") from None
        table = pa.table({"file": [str(f) for f in files], "embedding": [list(map(float, r)) for r in emb]})
        with atomic_path(p) as tmp:
            pq.write_table(table, str(tmp))
    else:
        with atomic_path(p) as tmp, open(tmp, "wb") as fh:
            np.save(fh, emb)
    return p
