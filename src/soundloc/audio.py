"""Read, validate, resample and write (multichannel) audio files.

Arrays are channels-first: a waveform is ``(C, N)`` float32 (channels, samples) with
full scale at +-1.0. Every problem with a user's file is reported as an
:class:`AudioError` (a ``ValueError``) whose one-line message starts with the file name,
e.g. ``"rec.wav: expected 4 channels for the array, got 2"``.

What counts as a bad signal (:func:`validate_waveform`):

* no samples at all, or any NaN / +-inf sample;
* silent: the peak magnitude over all channels is below ``SILENCE_PEAK`` (1e-6, -120 dBFS,
  below the resolution of 16- and 24-bit PCM) - unless ``allow_silent=True``;
* clipped beyond repair: in some channel more than ``max_clipped_fraction`` (default 5 %)
  of the samples lie on *flat tops* - runs of at least 3 consecutive samples within
  0.01 % of that channel's peak magnitude (same sign). The test is relative to the
  channel's own peak, so it catches clipping at any rail (16-bit, float, an attenuated
  clipped recording). Pure tones pass (their peaks are rounded: a full-scale 20 Hz sine at
  48 kHz has < 1 % of samples there); binary +-1 signals (e.g. MLS) and square waves are
  reported as clipped - pass ``max_clipped_fraction=None`` to skip the check. Channels
  quieter than ``CLIP_CHECK_MIN_PEAK`` (-60 dBFS) are not checked (with so few
  quantisation levels, flat runs are normal).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from soundloc.fileio import atomic_path, output_error

__all__ = [
    "AUDIO_EXTENSIONS",
    "AudioError",
    "audio_info",
    "iter_audio_blocks",
    "list_audio_files",
    "read_audio",
    "resample",
    "validate_waveform",
    "write_audio",
]

AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff")
"""Extensions :func:`list_audio_files` picks up inside folders (case-insensitive)."""

SILENCE_PEAK = 1e-6
"""Peak magnitude below which a signal counts as silent (-120 dBFS)."""

CLIP_CHECK_MIN_PEAK = 2.0**-10
"""Channels with a smaller peak (about -60 dBFS) are not checked for clipping."""

_CLIP_REL_TOL = 1e-4  # a sample is "at the peak" when |x| >= (1 - tol) * channel peak
_CLIP_MIN_RUN = 3  # flat top: at least this many consecutive samples at the peak

_WRITE_FORMATS = {".wav": ("WAV", "FLOAT"), ".flac": ("FLAC", "PCM_24")}


class AudioError(ValueError):
    """A bad audio file or waveform. The message is one line and names the file/input."""


# ---------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------


def _flat_top_fraction(row: np.ndarray, level: float) -> float:
    """Fraction of samples of ``row`` (N,) in runs of >= 3 at or beyond +-``level``."""
    n = row.shape[0]
    total = 0
    for mask in (row >= level, row <= -level):
        if not mask.any():
            continue
        # sample j lies in a run of >= 3 iff one of the 3-windows covering it is all True
        win = mask[:-2] & mask[1:-1] & mask[2:]
        inrun = np.zeros(n, dtype=bool)
        inrun[:-2] |= win
        inrun[1:-1] |= win
        inrun[2:] |= win
        total += int(np.count_nonzero(inrun))
    return total / n


def _check(
    x: np.ndarray, name: str, allow_silent: bool, max_clipped_fraction: float | None
) -> None:
    """Signal checks on a float32 ``(C, N)`` array (fast when C-contiguous)."""
    n = x.shape[1]
    hi = np.max(x, axis=1)  # NaN propagates, so these also detect non-finite samples
    lo = np.min(x, axis=1)
    if not (np.isfinite(hi).all() and np.isfinite(lo).all()):
        finite = np.isfinite(x)
        bad = int(x.size - np.count_nonzero(finite))
        ch, idx = np.argwhere(~finite)[0]
        raise AudioError(f"{name}: {bad} NaN/inf sample(s), first at channel {ch}, sample {idx}")
    peaks = np.maximum(hi, -lo).astype(np.float64)
    peak = float(peaks.max())
    if peak < SILENCE_PEAK and not allow_silent:
        what = "all samples are zero" if peak == 0.0 else f"peak {peak:.2e} < {SILENCE_PEAK:g}"
        raise AudioError(f"{name}: silent ({what})")
    if max_clipped_fraction is None or n < _CLIP_MIN_RUN:
        return
    for ch in np.flatnonzero(peaks >= CLIP_CHECK_MIN_PEAK):
        row = x[ch]
        level = np.float32((1.0 - _CLIP_REL_TOL) * peaks[ch])
        near = np.count_nonzero(row >= level) + np.count_nonzero(row <= -level)
        # only a channel with enough samples near its peak can fail: look for flat runs there
        if near <= max_clipped_fraction * n:
            continue
        frac = _flat_top_fraction(row, float(level))
        if frac > max_clipped_fraction:
            raise AudioError(
                f"{name}: heavily clipped: {100 * frac:.1f}% of channel {ch}'s samples "
                f"sit flat at its peak (limit {100 * max_clipped_fraction:g}%)"
            )


def _check_shape(a: np.ndarray, name: str, channels: int | None) -> None:
    """``a``: a (C, N) array."""
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise AudioError(f"{name}: expected a real-valued array, got dtype {a.dtype}")
    if channels is not None and a.shape[0] != channels:
        raise AudioError(f"{name}: expected {channels} channels for the array, got {a.shape[0]}")
    if a.shape[1] == 0:
        raise AudioError(f"{name}: contains no samples")
    if a.shape[0] == 0:
        raise AudioError(f"{name}: contains no channels")


def validate_waveform(
    x: np.ndarray,
    *,
    name: str = "input",
    channels: int | None = None,
    allow_silent: bool = False,
    max_clipped_fraction: float | None = 0.05,
) -> np.ndarray:
    """Check a waveform and return it as a C-contiguous float32 ``(C, N)`` array.

    ``x`` is ``(C, N)`` or ``(N,)`` (taken as one channel); integer arrays are converted to
    float32 without rescaling (divide PCM by its full scale first). ``name`` starts every error
    message (a file name, or e.g. ``"input"``). ``channels``: the expected channel count.
    Raises :class:`AudioError` for: wrong shape, no samples, wrong channel count, NaN/inf,
    silence (unless ``allow_silent``), heavy clipping (see the module docstring; ``None``
    skips that check).
    """
    a = np.asarray(x)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise AudioError(f"{name}: expected a (channels, samples) array, got shape {a.shape}")
    _check_shape(a, name, channels)
    a = np.ascontiguousarray(a, dtype=np.float32)
    _check(a, name, allow_silent, max_clipped_fraction)
    return a


# ---------------------------------------------------------------------------
# resampling
# ---------------------------------------------------------------------------


def resample(x: np.ndarray, fs_in: int, fs_out: int) -> np.ndarray:
    """Resample along the last axis with soxr (high quality). ``x``: ``(..., N)``.

    Returns ``(..., N')`` with ``N' ~= N * fs_out / fs_in``, float32 (float64 input stays
    float64). Same rates return the input unchanged.
    """
    for nm, v in (("fs_in", fs_in), ("fs_out", fs_out)):
        if not float(v).is_integer() or v <= 0:
            raise ValueError(f"resample: {nm} must be a positive integer rate in Hz, got {v!r}")
    fs_in, fs_out = int(fs_in), int(fs_out)
    a = np.asarray(x)
    if a.dtype != np.float64:
        a = a.astype(np.float32, copy=False)
    if fs_in == fs_out:
        return a
    if a.ndim == 0 or a.shape[-1] == 0:
        raise ValueError(f"resample: input has no samples (shape {a.shape})")
    import soxr  # local: keeps `import soundloc.audio` cheap

    lead = a.shape[:-1]
    flat = a.reshape(-1, a.shape[-1])
    y = soxr.resample(np.ascontiguousarray(flat.T), fs_in, fs_out, quality="HQ")
    y = np.asarray(y, dtype=a.dtype)
    if y.ndim == 1:
        y = y[:, None]
    return np.ascontiguousarray(y.T).reshape(*lead, y.shape[0])


# ---------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------


def _check_file(p: Path, name: str) -> None:
    """The checks before decoding: the file exists, is not a folder, can be accessed and is not empty."""
    if not p.exists():
        raise AudioError(f"{name}: no such file")
    if p.is_dir():
        raise AudioError(f"{name}: is a directory, not an audio file")
    try:
        size = p.stat().st_size
    except OSError as e:
        raise AudioError(f"{name}: cannot access file ({e.strerror or e})") from e
    if size == 0:
        raise AudioError(f"{name}: file is empty (0 bytes)")


def _decode_error(e: BaseException, p: Path, name: str) -> AudioError:
    """One-line :class:`AudioError` for a file soundfile could not open / decode."""
    msg = str(e).replace(f"Error opening {str(p)!r}: ", "").strip().splitlines()
    return AudioError(f"{name}: cannot decode audio ({msg[0] if msg else type(e).__name__})")


def read_audio(
    path: str | os.PathLike,
    *,
    fs: int | None = None,
    channels: int | None = None,
    resample: bool = True,
    allow_silent: bool = False,
    max_clipped_fraction: float | None = 0.05,
    select: Sequence[int] | None = None,
) -> tuple[np.ndarray, int]:
    """Read an audio file as ``(x (C, N) float32, fs)``.

    ``fs``: wanted sample rate; a file at another rate is resampled with soxr, or refused
    with an :class:`AudioError` when ``resample=False``. ``channels``: expected channel
    count (checked before resampling). ``select``: 0-based file channels to keep, in this
    order (e.g. the raw mics of a device that also records processed or playback channels);
    ``channels`` and the signal checks then apply to the selection only, so an unused channel
    may be silent or hold anything. Any format libsndfile reads works (WAV, FLAC,
    OGG, MP3, AIFF, ...). Raises :class:`AudioError` (message ``"<file>: <problem>"``)
    for a missing, empty or corrupt file and for every check of :func:`validate_waveform`.
    """
    p = Path(path)
    name = str(path)
    _check_file(p, name)
    try:
        data, fs_file = sf.read(str(p), dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, OSError, EOFError) as e:
        raise _decode_error(e, p, name) from e
    if select is not None:
        sel = [int(c) for c in select]
        bad = [c for c in sel if not 0 <= c < data.shape[1]]
        if bad:
            raise AudioError(f"{name}: has {data.shape[1]} channels (0 to {data.shape[1] - 1}), "
                             f"cannot select channel {', '.join(map(str, bad))}")
        data = data[:, sel]
    x = np.ascontiguousarray(data.T)  # (C, N); row-wise checks are fast on contiguous rows
    _check_shape(x, name, channels)
    _check(x, name, allow_silent, max_clipped_fraction)
    fs_file = int(fs_file)
    if fs is not None and int(fs) != fs_file:
        if not resample:
            raise AudioError(
                f"{name}: sample rate is {fs_file} Hz, expected {int(fs)} Hz (resampling disabled)"
            )
        x = _resample(x, fs_file, int(fs))
        fs_file = int(fs)
    return x, fs_file



_resample = resample  # read_audio's `resample` keyword shadows the function name


def audio_info(path: str | os.PathLike, *, what: str = "audio file") -> sf._SoundFileInfo:
    """``soundfile.info`` of ``path`` (``.frames``, ``.samplerate``, ``.channels``) without
    decoding it; :class:`AudioError` naming the file when it is missing, a folder or unreadable
    (``"clip file missing: out/audio/train/clip_000003.flac"`` with ``what="clip file"``)."""
    p = Path(path)
    if not p.exists():
        raise AudioError(f"{what} missing: {p}")
    if p.is_dir():
        raise AudioError(f"{p}: is a directory, not an audio file")
    try:
        return sf.info(str(p))
    except (sf.SoundFileError, RuntimeError, OSError, EOFError) as e:
        msg = str(e).replace(f"Error opening {str(p)!r}: ", "").strip().splitlines()
        raise AudioError(f"{p}: cannot read audio header ({msg[0] if msg else type(e).__name__})") from None


# ---------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------


def write_audio(
    path: str | os.PathLike,
    x: np.ndarray,
    fs: int,
    *,
    subtype: str | None = None,
) -> None:
    """Write ``x`` (``(C, N)``, or ``(N,)`` mono) to ``path`` atomically.

    The data goes to a temporary file in the same folder, which then replaces ``path``
    (``os.replace``), so readers never see a half-written file. Parent folders are
    created. Formats by suffix: ``.wav`` (default subtype ``FLOAT``; ``PCM_16``,
    ``PCM_24``, ``PCM_32``, ``DOUBLE`` also allowed) and ``.flac`` (default ``PCM_24``;
    ``PCM_16`` allowed). Integer subtypes need ``|x| <= 1``: louder input raises
    :class:`AudioError` instead of being clipped silently. NaN/inf raise too.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in _WRITE_FORMATS:
        raise AudioError(f"{p}: cannot write {suffix or 'files without a suffix'}; use .wav or .flac")
    fmt, default_subtype = _WRITE_FORMATS[suffix]
    st = (subtype or default_subtype).upper()
    if not sf.check_format(fmt, st):
        ok = ", ".join(sorted(s for s in sf.available_subtypes(fmt) if sf.check_format(fmt, s)))
        raise AudioError(f"{p}: subtype {st!r} is not valid for {suffix} (choose from {ok})")
    if not float(fs).is_integer() or fs <= 0:
        raise AudioError(f"{p}: sample rate must be a positive integer, got {fs!r}")
    a = np.asarray(x)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise AudioError(f"{p}: expected a non-empty (channels, samples) array, got shape {a.shape}")
    a = a.astype(np.float64 if st == "DOUBLE" else np.float32, copy=False)
    if not np.isfinite(a).all():
        raise AudioError(f"{p}: refusing to write NaN/inf samples")
    if st.startswith("PCM") or st in ("ULAW", "ALAW"):
        peak = float(np.max(np.abs(a)))
        if peak > 1.0:
            raise AudioError(
                f"{p}: peak {peak:.3f} exceeds full scale 1.0 for subtype {st}; scale it down"
                + (" or use subtype='FLOAT'" if suffix == ".wav" else "")
            )
    with atomic_path(p) as tmp:
        try:
            sf.write(tmp, np.ascontiguousarray(a.T), int(fs), subtype=st, format=fmt)
        except sf.SoundFileRuntimeError as e:  # libsndfile's "System error." hides the errno
            raise _write_failure(p, e, a.nbytes) from None


def _write_failure(p: Path, e: Exception, nbytes: int) -> OSError:
    """An :class:`~soundloc.fileio.OutputError` naming ``p`` for a libsndfile write error: "no
    space left on device" when the folder's file system has less room than the data needs."""
    import errno
    import shutil

    try:
        free = shutil.disk_usage(p.parent).free
    except OSError:
        free = None
    if free is not None and free < nbytes + (1 << 20):
        return output_error(p, errno.ENOSPC)
    detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return output_error(p, errno.EIO, f"libsndfile failed ({detail.rstrip('.')})")


# ---------------------------------------------------------------------------
# listing
# ---------------------------------------------------------------------------


def list_audio_files(
    paths: Sequence[str | os.PathLike] | str | os.PathLike,
    *,
    extensions: Iterable[str] = AUDIO_EXTENSIONS,
) -> list[Path]:
    """Expand files and folders into a sorted, de-duplicated list of audio files.

    Folders are searched recursively for ``extensions`` (case-insensitive); names starting
    with ``"."`` (hidden files, temp files of :func:`write_audio`, macOS ``._*``) are
    skipped. Files given explicitly are kept whatever their suffix. A single path may be
    passed instead of a list. Raises :class:`AudioError` for a missing path or when
    nothing is found.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = list(paths)
    if not paths:
        raise AudioError("no input paths given")
    exts = {e.lower() if e.startswith(".") else "." + e.lower() for e in extensions}
    found: set[Path] = set()
    for item in paths:
        p = Path(item)
        if p.is_file():
            found.add(p)
        elif p.is_dir():
            visited: set[str] = set()  # real folders walked: a symlink loop is entered once
            for root, dirs, files in os.walk(p, followlinks=True):
                real = os.path.realpath(root)
                if real in visited:
                    dirs[:] = []
                    continue
                visited.add(real)
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                for f in files:
                    if not f.startswith(".") and os.path.splitext(f)[1].lower() in exts:
                        found.add(Path(root) / f)
        else:
            raise AudioError(f"{item}: no such file or directory")
    if not found:
        where = ", ".join(str(p) for p in paths)
        raise AudioError(f"no audio files ({', '.join(sorted(exts))}) found in: {where}")
    return sorted(found)


# ---------------------------------------------------------------------------
# reading long files in blocks
# ---------------------------------------------------------------------------

BLOCK_FRAMES = 2**20
"""Default block length of :func:`iter_audio_blocks` in samples (65.5 s at 16 kHz)."""


def _open_sound_file(p: Path, name: str) -> sf.SoundFile:
    """Open ``p`` for reading with :func:`read_audio`'s checks and messages."""
    _check_file(p, name)
    try:
        return sf.SoundFile(str(p))
    except (sf.SoundFileError, RuntimeError, OSError, EOFError) as e:
        raise _decode_error(e, p, name) from e


def _read_chunk(f: sf.SoundFile, n: int, name: str, select: list[int] | None) -> np.ndarray:
    """Next ``n`` frames of ``f`` as a C-contiguous float32 ``(C, k)`` array, ``k <= n`` (0 at the end)."""
    try:
        data = f.read(n, dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, OSError, EOFError) as e:
        raise AudioError(f"{name}: cannot decode audio ({str(e).strip() or type(e).__name__})") from e
    if select is not None:
        data = data[:, select]
    return np.ascontiguousarray(data.T)


def iter_audio_blocks(
    path: str | os.PathLike,
    block_frames: int = BLOCK_FRAMES,
    *,
    fs: int | None = None,
    channels: int | None = None,
    resample: bool = True,
    select: Sequence[int] | None = None,
    allow_silent: bool = False,
    max_clipped_fraction: float | None = 0.05,
) -> Iterator[tuple[np.ndarray, int]]:
    """Read an audio file block by block: memory bounded by ``block_frames``, not the file length.

    Yields ``(x, fs)`` with ``x`` a float32 ``(C, n)`` block, ``0 < n <= block_frames``; the
    blocks are consecutive and do not overlap, their concatenation is what :func:`read_audio`
    returns (bit for bit, resampled ones too: soxr's streaming resampler gives what its one-shot
    call gives). Arguments as in :func:`read_audio`; ``fs`` resamples block by block.

    Checks: the header ones (missing/empty/corrupt file, ``channels``, ``select``, a rate refused
    with ``resample=False``) before the first block; NaN/inf in a block raise an
    :class:`AudioError` naming the file and the time; a silent file is refused before the first
    block (when the first samples are silent the file is scanned ahead for a sound, then read from
    where it was). Clipping is checked per block (relative to the block's peak; for a file of one
    block exactly as in :func:`read_audio`), and the message names the block's time span.
    """
    if int(block_frames) != block_frames or block_frames < 1:
        raise ValueError(f"block_frames must be a positive integer, got {block_frames}")
    block_frames = int(block_frames)
    p = Path(path)
    name = str(path)
    with _open_sound_file(p, name) as f:
        fs_file = int(f.samplerate)
        n_ch = int(f.channels)
        sel: list[int] | None = None
        if select is not None:
            sel = [int(c) for c in select]
            bad = [c for c in sel if not 0 <= c < n_ch]
            if bad:
                raise AudioError(f"{name}: has {n_ch} channels (0 to {n_ch - 1}), "
                                 f"cannot select channel {', '.join(map(str, bad))}")
        out_ch = n_ch if sel is None else len(sel)
        if channels is not None and out_ch != channels:
            raise AudioError(f"{name}: expected {channels} channels for the array, got {out_ch}")
        if f.frames == 0:
            raise AudioError(f"{name}: contains no samples")
        fs_out = fs_file if fs is None else int(fs)
        if fs_out != fs_file and not resample:
            raise AudioError(f"{name}: sample rate is {fs_file} Hz, expected {fs_out} Hz (resampling disabled)")
        # input frames per read: about one output block
        step = max(1, -(-block_frames * fs_file // fs_out))
        single = f.frames <= step
        stream = None
        if fs_out != fs_file:
            import soxr  # local: keeps `import soundloc.audio` cheap

            stream = soxr.ResampleStream(fs_file, fs_out, out_ch, dtype="float32", quality="HQ")
        heard = allow_silent
        pending: list[np.ndarray] = []
        pending_n = 0
        pos = 0  # input frames read so far
        while True:
            x = _read_chunk(f, step, name, sel)
            k = x.shape[1]
            last = k < step or pos + k >= f.frames
            if k:
                t0, t1 = pos / fs_file, (pos + k) / fs_file
                label = name if single else f"{name} at {t0:.1f}-{t1:.1f} s"
                if not np.isfinite(x).all():
                    ch, idx = np.argwhere(~np.isfinite(x))[0]
                    at = pos + int(idx)
                    raise AudioError(f"{name}: NaN/inf sample at {at / fs_file:.3f} s (channel {ch}, sample {at})")
                _check(x, label, True, max_clipped_fraction)
                if not heard:
                    heard = _scan_for_sound(f, x, pos + k, step, name, sel)
            pos += k
            y = x if stream is None else stream.resample_chunk(np.ascontiguousarray(x.T), last=last).T
            if y.shape[1]:
                pending.append(np.ascontiguousarray(y, dtype=np.float32))
                pending_n += y.shape[1]
            while pending_n >= block_frames or (last and pending_n):
                buf = pending[0] if len(pending) == 1 else np.concatenate(pending, axis=1)
                n_out = min(block_frames, buf.shape[1])
                rest = buf[:, n_out:]
                pending = [np.ascontiguousarray(rest)] if rest.shape[1] else []
                pending_n = rest.shape[1]
                yield buf[:, :n_out], fs_out
            if last:
                return


def _scan_for_sound(f: sf.SoundFile, first: np.ndarray, resume: int, step: int, name: str, sel: list[int] | None) -> bool:
    """True when ``first`` or anything after it in ``f`` is louder than :data:`SILENCE_PEAK`
    (or not finite); else raise the silent-file :class:`AudioError`. ``f`` is left at ``resume``."""
    peak = float(np.max(np.abs(first))) if first.size else 0.0
    if not peak < SILENCE_PEAK:
        return True
    try:
        while True:
            x = _read_chunk(f, step, name, sel)
            if not x.shape[1]:
                break
            m = float(np.max(np.abs(x)))
            if not m < SILENCE_PEAK:  # NaN too: the reading pass reports it
                return True
            peak = max(peak, m)
    finally:
        f.seek(resume)
    what = "all samples are zero" if peak == 0.0 else f"peak {peak:.2e} < {SILENCE_PEAK:g}"
    raise AudioError(f"{name}: silent ({what})")
