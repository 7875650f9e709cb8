from __future__ import annotations

import pytest

from soundloc.train import TrainConfig

TINY_MODEL = {"conv_channels": 8, "rnn_size": 16, "attn_heads": 2, "attn_layers": 1}


@pytest.fixture
def tiny_config() -> TrainConfig:
    return TrainConfig(epochs=2, batch_size=2, clip_seconds=1.0, model_kwargs=TINY_MODEL, patience=None)
