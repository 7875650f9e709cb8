"""Suite-wide test settings.

One torch intra-op thread per test process (and, through ``OMP_NUM_THREADS``, per subprocess the
tests start): the suite runs ``pytest -n 2`` on 2 cores, and tiny tensor ops with several threads per
worker oversubscribe them -- a 30-step pretraining test took 218 s instead of 5 s on a loaded machine.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

torch.set_num_threads(1)
