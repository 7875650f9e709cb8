"""``soundloc embed ENCODER FILES... --out emb.npy``: one embedding per audio file.

ENCODER is a soundloc pretrain run folder, an encoder .json or random:ARRAY. FILES are audio files
or folders (searched recursively) recorded with the encoder's array at its sample rate; other rates
or channel counts are refused (--array NAME|JSON also checks the array). The embedding of a file is
the encoder's frame embeddings averaged over the whole file. --out .npy writes the (files, D)
array (rows in the order printed); .parquet writes the columns file and embedding (needs pyarrow).
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "embed", help="embeddings of audio files from a pretrained spatial encoder",
        description=(__doc__ or "").replace("``", ""), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("encoder", metavar="ENCODER", help="pretrain run folder, encoder .json, or random:ARRAY")
    p.add_argument("files", metavar="FILES", nargs="+", help="audio files or folders")
    p.add_argument("--out", required=True, metavar="PATH", help="output .npy or .parquet")
    p.add_argument("--array", metavar="NAME|JSON", help="the recordings' array (checked against the encoder's)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, ...")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from soundloc.audio import list_audio_files
    from soundloc.cli.probe import _encoder
    from soundloc.device import resolve_device
    from soundloc.ssl.embed import FORMATS, embed_files, write_embeddings

    out = Path(args.out)
    if out.suffix not in FORMATS:
        raise ValueError(f"--out '{out}' must end in .npy or .parquet")
    if out.suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ValueError("--out .parquet needs the pyarrow package (pip install pyarrow); or write .npy") from None
    for f in args.files:
        if not Path(f).exists():
            raise ValueError(f"'{f}' does not exist")
    files = list_audio_files(args.files)
    if not files:
        raise ValueError("no audio files (wav, flac, ...) in the given paths")
    device = str(resolve_device(args.device, option="--device"))
    enc = _encoder(args.encoder, device)
    emb = embed_files(enc, files, array=args.array, device=device)  # type: ignore[arg-type]
    write_embeddings(out, files, emb)
    for f in files:
        print(f)
    print(f"{len(files)} embeddings of size {emb.shape[1]}: {out}")
    return 0
