"""The built-in AV model loader: absent -> None; a shipped (here: tiny) model loads with its benchmark settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from soundloc.av.models import AVLocalizer, AVModelConfig, save_av_model
from soundloc.av.pretrained import PRETRAINED_DIR, builtin_av_model

TINY = AVModelConfig(embed_dim=8, image_width=4, image_blocks=(1, 1), image_stem_stride=2, audio_width=4, audio_blocks=(1, 1))
BENCH = {"image_size": 32, "sizes": [16, 8, 8], "n_voices": 8, "seed": 0}


def ship_tiny(folder: Path) -> AVLocalizer:
    torch.manual_seed(0)
    m = AVLocalizer(config=TINY).eval()
    save_av_model(m, folder / "digits")
    (folder / "digits.data.json").write_text(json.dumps({"data": "builtin", "bench": BENCH}))
    return m


def test_absent_and_shipped(tmp_path: Path) -> None:
    assert builtin_av_model(directory=tmp_path) is None
    m = ship_tiny(tmp_path)
    found = builtin_av_model(directory=tmp_path)
    assert found is not None
    model, bench = found
    assert bench.image_size == 32 and bench.sizes == (16, 8, 8)
    assert all(torch.equal(v, m.state_dict()[k]) for k, v in model.state_dict().items())
    (tmp_path / "digits.data.json").write_text("{}")
    with pytest.raises(ValueError, match="no \"bench\""):
        builtin_av_model(directory=tmp_path)
    with pytest.raises(ValueError, match="plain names"):
        builtin_av_model("../x", directory=tmp_path)


def test_the_package_folder_is_the_default() -> None:
    assert PRETRAINED_DIR.name == "pretrained" and (PRETRAINED_DIR / "__init__.py").is_file()
