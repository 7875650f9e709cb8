from __future__ import annotations

from pathlib import Path

import pytest

from soundloc.train import TrainConfig

TINY_MODEL = {"conv_channels": 8, "rnn_size": 16, "attn_heads": 2, "attn_layers": 1}


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 clips of the ``tiny`` preset (2 s, 16 kHz, circular4): 3 train, 2 val, 1 test."""
    from soundloc.scenes import generate_dataset, get_preset

    out = tmp_path_factory.mktemp("tiny") / "data"
    generate_dataset(out, get_preset("tiny").replace(num_clips=6), seed=0)
    return out


@pytest.fixture
def tiny_config() -> TrainConfig:
    return TrainConfig(epochs=2, batch_size=2, clip_seconds=1.0, model_kwargs=TINY_MODEL, patience=None)
