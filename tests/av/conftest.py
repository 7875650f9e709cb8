"""Fixtures: tiny Flickr-SoundNet, VGG-SS and VGGSound folders in tmp_path (writers in folder_fixtures.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from folder_fixtures import FLICKR_BOXES, VGGSS, flickr_xml, write_clip


@pytest.fixture
def flickr_root(tmp_path: Path) -> Path:
    root = tmp_path / "Flickr-SoundNet"
    (root / "Annotations").mkdir(parents=True)
    for i, (cid, boxes) in enumerate(FLICKR_BOXES.items()):
        write_clip(root, cid, i, frame_ext=".jpg")
        (root / "Annotations" / f"{cid}.xml").write_text(flickr_xml(boxes))
    (root / "flickr_test.csv").write_text("101,dog barking\n102,\"male speech, man speaking\"\n103,dog barking\n")
    return root


@pytest.fixture
def vggss_root(tmp_path: Path) -> Path:
    root = tmp_path / "VGG-SS"
    for i, ent in enumerate(VGGSS):
        write_clip(root, str(ent["file"]), 10 + i)
    (root / "vggss.json").write_text(json.dumps(VGGSS))
    return root


@pytest.fixture
def vggsound_root(tmp_path: Path) -> Callable[[int], Path]:
    def make(n: int) -> Path:
        root = tmp_path / "VGGSound"
        for i in range(n):
            write_clip(root, f"yt{i:02d}_{i:06d}", 100 + i, size=24)
        return root

    return make
