"""Suite-wide test settings.

One torch intra-op thread per test process (and, through ``OMP_NUM_THREADS``, per subprocess the
tests start): the suite runs ``pytest -n 2`` on 2 cores, and tiny tensor ops with several threads per
worker oversubscribe them -- a 30-step pretraining test took 218 s instead of 5 s on a loaded machine.
``tiny_data``: the small simulated dataset the training and CLI tests share.
"""

import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 clips of the ``tiny`` preset (2 s, 16 kHz, circular4): 3 train, 2 val, 1 test."""
    from soundloc.scenes import generate_dataset, get_preset

    out = tmp_path_factory.mktemp("tiny") / "data"
    generate_dataset(out, get_preset("tiny").replace(num_clips=6), seed=0)
    return out
