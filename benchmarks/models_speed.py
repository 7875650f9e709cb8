"""CPU timing of the SELD models (numbers for docs/models.md): PYTHONPATH=src python benchmarks/models_speed.py"""

import time

import torch

from soundloc.geometry import MicArray
from soundloc.losses import AdpitLoss, adpit_targets
from soundloc.models import InputSpec, SeldConfig, build_model

torch.set_num_threads(2)
spec = InputSpec.create("mic", MicArray.preset("tetra"), class_names=[f"c{i}" for i in range(13)])
feat = spec.feature_module()
x = torch.randn(1, 4, 60 * 24000)
with torch.no_grad():
    t0 = time.perf_counter()
    f = feat(x)
    tf = time.perf_counter() - t0
print(f"features mic 60 s: {tf:.3f} s, shape {tuple(f.shape)}")
for enc in ("crnn", "resnet-conformer"):
    m = build_model(SeldConfig.for_input(spec, encoder=enc, head="multi-accddoa")).eval()
    n = sum(p.numel() for p in m.parameters())
    with torch.no_grad():
        m(f[:, :, :501])
        t0 = time.perf_counter()
        y = m(f)
        t = time.perf_counter() - t0
    print(f"{enc}: {n / 1e6:.3f} M params, 60 s clip forward {t:.3f} s (RTF {t / 60:.4f}; "
          f"features+model {(t + tf) / 60:.4f}), out {tuple(y.shape)}")
    m.train()
    opt = torch.optim.Adam(m.parameters())
    xb, tgt = torch.randn(32, 10, 251, 64), torch.zeros(32, 50, 6, 5, 13)
    t0 = time.perf_counter()
    for _ in range(3):
        opt.zero_grad()
        AdpitLoss()(m(xb), tgt).backward()
        opt.step()
    print(f"{enc}: train step batch 32 x 5 s: {(time.perf_counter() - t0) / 3:.3f} s")
out = torch.randn(32, 50, 3, 4, 13, requires_grad=True)
tgt = adpit_targets(torch.ones(32, 50, 3, 13), torch.randn(32, 50, 3, 13, 3), torch.rand(32, 50, 3, 13))
t0 = time.perf_counter()
for _ in range(20):
    AdpitLoss()(out, tgt).backward()
print(f"ADPIT loss fwd+bwd (32 x 50 x 13): {(time.perf_counter() - t0) / 20 * 1000:.2f} ms")
