from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def mcsimclr_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 one-event 1-s clips of the ``mcsimclr`` preset (circular4, 16 kHz): ~19 train, 2-3 val, 2-3 test."""
    from soundloc.scenes import generate_dataset, get_preset

    out = tmp_path_factory.mktemp("mcsimclr") / "data"
    generate_dataset(out, get_preset("mcsimclr").replace(num_clips=24), seed=0)
    return out
