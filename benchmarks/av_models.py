"""Audio-visual localizer throughput (images per second): training steps and inference, CPU and GPU.

Measures, in one process, the :class:`soundloc.av.models.AVLocalizer` configuration given on the command
line (default: the one of docs/_drafts/avmodels.md: 64 px frames, 1 s audio, width 16, blocks 1,1,1) and the
ResNet-18 image width (64, blocks 2,2,2,2, 224 px) for comparison: EZ-VSL training steps (forward,
loss, backward, AdamW) and inference (``localize``), on CPU and on CUDA when available.

    python benchmarks/av_models.py [--batch 64] [--steps 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import torch

from soundloc.av.models import AVLocalizer, AVModelConfig
from soundloc.losses import EZVSLLoss


def _bench(cfg: AVModelConfig, size: int, batch: int, steps: int, device: str) -> tuple[float, float]:
    torch.manual_seed(0)
    m = AVLocalizer(config=cfg).to(device)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    loss = EZVSLLoss()
    f = torch.rand(batch, 3, size, size, device=device)
    a = 0.1 * torch.randn(batch, 16000, device=device)

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    m.train()
    for k in range(steps + 1):
        if k == 1:
            sync()
            t0 = time.perf_counter()
        out = m(f, a)
        v = loss(out["img_loc"], out["aud_loc"])
        opt.zero_grad()
        v.backward()
        opt.step()
    sync()
    train = batch * steps / (time.perf_counter() - t0)
    m.eval()
    for k in range(steps + 1):
        if k == 1:
            sync()
            t0 = time.perf_counter()
        m.localize(f, a)
    sync()
    return train, batch * steps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    configs = [("ours 64px w16 (1,1,1)", AVModelConfig(image_width=16, image_blocks=(1, 1, 1), image_stem_stride=2, audio_width=16,
                                                       audio_blocks=(1, 1, 1)), 64),
               ("ResNet-18 image 224px", AVModelConfig(), 224)]
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"{'model':28s} {'device':6s} {'train img/s':>12s} {'infer img/s':>12s}  (batch {args.batch}, threads {torch.get_num_threads()})")
    for name, cfg, size in configs:
        for dev in devices:
            tr, inf = _bench(cfg, size, args.batch, args.steps, dev)
            print(f"{name:28s} {dev:6s} {tr:12.1f} {inf:12.1f}")


if __name__ == "__main__":
    main()
