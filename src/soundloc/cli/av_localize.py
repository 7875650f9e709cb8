"""``soundloc av-localize``: where in the picture is the sound coming from?

``soundloc av-localize RUN IMAGE AUDIO --plot out.png`` runs the model of an ``av-train`` run on one
frame (PNG / JPEG / any image Pillow reads; resized to the size the model was trained at) and one audio
clip (any format libsndfile reads; channels averaged to mono, resampled to the model's rate). Prints the
sounding-object confidence (0-1: low for silence, noise or a sound whose source is not in the picture)
and the heatmap's peak in the image's own pixel coordinates (x from the left, y from the top);
``--plot`` draws the heatmap over the frame, ``--format json`` prints one object.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "av-localize", help="heatmap of the sounding object in a picture, from an image and an audio clip",
        description=(__doc__ or "").replace("``", ""), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", metavar="RUN", help="run folder written by soundloc av-train (or a model stem / .json)")
    p.add_argument("image", metavar="IMAGE", help="the frame (PNG, JPEG, ...)")
    p.add_argument("audio", metavar="AUDIO", help="the audio clip (WAV, FLAC, ...)")
    p.add_argument("--size", type=int, default=None, help="resize the frame to SIZE x SIZE (default: the training size)")
    p.add_argument("--plot", default=None, metavar="OUT.png", help="write the heatmap over the frame")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")
    p.set_defaults(func=run)
    return p


def _read_image(path: str, size: int):  # type: ignore[no-untyped-def]
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            rgb = im.convert("RGB")
            w, h = rgb.size
            small = np.asarray(rgb.resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32) / 255.0
            full = np.asarray(rgb, dtype=np.float32) / 255.0
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f"{path}: not a readable image ({str(e).splitlines()[0]})") from None
    return small.transpose(2, 0, 1), full, (w, h)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import numpy as np
    import torch
    import torch.nn.functional as F

    from soundloc.audio import read_audio
    from soundloc.av.models import load_av_model
    from soundloc.fileio import check_writable

    run_dir = Path(args.run)
    model = load_av_model(run_dir / "model" if run_dir.is_dir() else run_dir)
    size = args.size
    if size is None:
        from soundloc.cli._av import run_image_size

        folder = run_dir if run_dir.is_dir() else run_dir.parent  # RUN or RUN/model(.json)
        size = run_image_size(folder)
    if not 16 <= size <= 1024:
        raise ValueError(f"--size must be 16-1024 pixels, got {size}")
    if args.plot:
        check_writable(args.plot)
    frame, full, (w, h) = _read_image(args.image, size)
    x, _ = read_audio(args.audio, fs=model.config.fs, allow_silent=True, max_clipped_fraction=None)
    mono = torch.from_numpy(np.asarray(x, dtype=np.float32).mean(axis=0))[None]
    if mono.shape[1] < model.config.nfft:
        raise ValueError(f"{args.audio}: too short ({mono.shape[1]} samples at {model.config.fs} Hz, need {model.config.nfft})")
    heat, conf = model.localize(torch.from_numpy(frame)[None], mono)
    big = F.interpolate(heat[:, None], size=(h, w), mode="bilinear", align_corners=False)[0, 0].numpy()
    py, px = np.unravel_index(int(np.argmax(big)), big.shape)
    out = {"image": args.image, "audio": args.audio, "confidence": float(conf[0]), "peak_x": int(px), "peak_y": int(py),
           "width": w, "height": h}
    if args.format == "json":
        print(json.dumps(out))
    else:
        print(f"sounding-object confidence {out['confidence']:.3f}; peak at x={px}, y={py} (of {w}x{h} pixels)")
    if args.plot:
        from soundloc.plots import plot_av_heatmap

        plot_av_heatmap(args.plot, full, big, title=f"confidence {out['confidence']:.2f}")
    return 0
