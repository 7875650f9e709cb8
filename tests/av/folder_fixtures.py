"""Writers of tiny Flickr-SoundNet, VGG-SS and VGGSound folders for the folder-dataset tests (fixtures in conftest.py)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
from PIL import Image

FS = 16000


def write_clip(root: Path, cid: str, seed: int, *, size: int = 40, frame_ext: str = ".png", audio_ext: str = ".wav",
               seconds: float = 0.5, fs: int = FS) -> tuple[np.ndarray, np.ndarray]:
    """``frames/<cid><frame_ext>`` (random RGB, ``size`` px) and ``audio/<cid><audio_ext>`` (noise); returns both arrays."""
    rng = np.random.default_rng(seed)
    (root / "frames").mkdir(parents=True, exist_ok=True)
    (root / "audio").mkdir(parents=True, exist_ok=True)
    img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(img).save(root / "frames" / f"{cid}{frame_ext}")
    audio = (0.1 * rng.standard_normal(int(seconds * fs))).astype(np.float32)
    sf.write(root / "audio" / f"{cid}{audio_ext}", audio, fs, subtype="FLOAT" if audio_ext == ".wav" else None)
    return img, audio


def flickr_xml(boxes_per_annotator: Sequence[Sequence[Sequence[int]]], tag: str = "bbox") -> str:
    """An annotation file in the Flickr-SoundNet shape: one ``<object>`` per annotator, each with its boxes
    (the official files put an extra first child in each box, which the official loader skips)."""
    objs = []
    for k, boxes in enumerate(boxes_per_annotator):
        bxs = "".join(f"<{tag}><name>{k}</name><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin><xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></{tag}>"
                      for b in boxes)
        objs.append(f"<object>{bxs}</object>")
    return f"<annotation><filename>x.jpg</filename>{''.join(objs)}</annotation>"


FLICKR_BOXES = {
    # annotator A: the top-left quarter; annotator B: the centre square (256-scale)
    "101": [[[0, 0, 128, 128]], [[64, 64, 192, 192]]],
    # one annotator with two boxes, a second one inside the first box
    "102": [[[0, 0, 64, 256], [192, 0, 256, 256]], [[0, 0, 32, 32]]],
    "103": [[[128, 128, 256, 256]]],
}


VGGSS = [
    {"file": "aaa_000010", "class": "dog barking", "bbox": [[0.25, 0.5, 0.75, 1.0]]},
    {"file": "bbb_000020", "class": "cat meowing", "bbox": [[0.0, 0.0, 0.5, 0.5], [0.25, 0.25, 1.0, 1.0]]},
    {"file": "ccc_000030", "class": "dog barking", "bbox": [[0.1, 0.1, 0.2, 0.9]]},
]
