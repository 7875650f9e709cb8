"""Plots of localization results (PNG/PDF/SVG files; no window, no global matplotlib state).

Conventions: azimuth counter-clockwise from +x (front) in (-180, 180] degrees, elevation up
from the horizontal plane. Polar plots put **0 degrees (front, +x) at the top** and run
azimuth **counter-clockwise** (+90 = left), i.e. the view from above with the array facing up
the page.

* :func:`plot_polar_spectrum` -- one polar panel per method with the spatial spectrum, the
  estimated directions (dots) and the true ones (red stars); for a 3-D (sphere) grid the polar
  panel shows the azimuth marginal (max over elevation) and a second panel the az/el map.
* :func:`plot_doa_vs_time` -- per-window results: azimuth spectrum over time per method with
  the estimates on top, windows without a source hatched (and elevation vs time for 3-D grids).

Figures are drawn with matplotlib's object API on an Agg canvas (``matplotlib.figure.Figure``),
so nothing here touches ``pyplot`` or the global backend; files are written atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from soundloc.fileio import atomic_path

if TYPE_CHECKING:  # pragma: no cover
    from soundloc.doa import DOAResult
    from soundloc.geometry import DOAGrid

__all__ = ["azimuth_marginal", "doa_vs_time_figure", "plot_doa_vs_time", "plot_polar_spectrum", "polar_spectrum_figure"]

_METHOD_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan")
_TRUTH_COLOUR = "tab:red"


def azimuth_marginal(spectrum: np.ndarray, grid: "DOAGrid", bin_deg: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Spectrum as a function of azimuth only.

    Args:
        spectrum: ``(G,)`` values on ``grid``.
        grid: an azimuth-only grid (returned as is, sorted by azimuth) or any other grid, whose
            points are binned by azimuth taking the **max over elevation** in each bin.
        bin_deg: bin width for non-azimuth grids (default: the grid spacing, at least 1 degree).

    Returns:
        ``(azimuth_deg (A,), value (A,))`` sorted by azimuth in (-180, 180]. Empty bins are
        filled by circular linear interpolation.
    """
    s = np.asarray(spectrum, dtype=float)
    az = np.asarray(grid.azimuth_deg, dtype=float)
    if s.shape != az.shape:
        raise ValueError(f"spectrum has {s.size} points, grid has {az.size}")
    if grid.is_azimuth_only:
        order = np.argsort(az, kind="stable")
        return az[order], s[order]
    if bin_deg is None:
        bin_deg = max(1.0, float(getattr(grid, "spacing_deg", 2.0)))
    n = max(8, int(round(360.0 / bin_deg)))
    width = 360.0 / n
    idx = np.floor((az + 180.0) / width).astype(int) % n
    vals = np.full(n, -np.inf)
    np.maximum.at(vals, idx, s)
    centres = -180.0 + width * (np.arange(n) + 0.5)
    ok = np.isfinite(vals)
    if not ok.all():
        vals = np.interp(centres, centres[ok], vals[ok], period=360.0)
    return centres, vals


def _truth_array(truth) -> np.ndarray:
    if truth is None:
        return np.zeros((0, 2))
    t = np.asarray(truth, dtype=float)
    if t.size == 0:
        return np.zeros((0, 2))
    t = np.atleast_2d(t)
    if t.ndim != 2 or t.shape[1] != 2:
        raise ValueError(f"truth must be (N, 2) rows of [azimuth, elevation] in degrees, got shape {t.shape}")
    return t


def _save(fig, path: str | Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    path = Path(path)
    fmt = path.suffix[1:].lower() or "png"
    FigureCanvasAgg(fig)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=110, bbox_inches="tight")
    return path


def _deg(a: float) -> int:
    """Whole degrees for labels (no "-0")."""
    return int(round(float(a))) + 0


def _style_polar(ax) -> None:
    ax.set_theta_zero_location("N")  # 0 deg = front at the top
    ax.set_theta_direction(1)  # counter-clockwise: +90 (left) on the left
    ticks = np.arange(0, 360, 45)  # tick positions in [0, 360) keep the full circle in view
    ax.set_xticks(np.deg2rad(ticks))
    ax.set_xticklabels([f"{t if t <= 180 else t - 360:d}°" for t in ticks], fontsize=8)
    ax.set_xlim(0.0, 2 * np.pi)
    ax.set_ylim(0, 1.08)
    ax.set_yticks([0.25, 0.5, 0.75, 1.0])
    ax.set_yticklabels([])  # the radius is a relative scale (see the figure title)


def plot_polar_spectrum(
    results: "Sequence[DOAResult]",
    path: str | Path,
    truth: np.ndarray | Sequence[Sequence[float]] | None = None,
    *,
    truth_labels: Sequence[str] | None = None,
    title: str | None = None,
) -> Path:
    """Polar plot of each result's spatial spectrum, one panel per result (method).

    Args:
        results: the results to draw (typically one per method, for the same clip).
        path: output file (``.png``, ``.pdf``, ``.svg``...), written atomically.
        truth: optional ``(N, 2)`` true ``[azimuth, elevation]`` in degrees, drawn as red stars
            (and a faint radial line) on every panel.
        truth_labels: optional names for the true sources (e.g. sound classes) for the legend.
        title: figure title.

    The radius is the spectrum min-max scaled to [0, 1] per panel (broad SRP / GCC spectra have
    a high floor that would hide their peaks otherwise). For a 3-D grid
    (:class:`~soundloc.geometry.SphereGrid`) the polar panel shows the azimuth marginal (max over
    elevation) and a second row shows the az/el map of the spectrum.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    return _save(polar_spectrum_figure(results, truth, truth_labels=truth_labels, title=title), path)


def polar_spectrum_figure(
    results: "Sequence[DOAResult]",
    truth: np.ndarray | Sequence[Sequence[float]] | None = None,
    *,
    truth_labels: Sequence[str] | None = None,
    title: str | None = None,
):
    """The figure of :func:`plot_polar_spectrum` (a ``matplotlib.figure.Figure``, not saved).

    The polar axes (``ax.name == "polar"``) appear in ``fig.axes`` in the order of ``results``.
    """
    from matplotlib.figure import Figure

    results = list(results)
    if not results:
        raise ValueError("nothing to plot: no results")
    t = _truth_array(truth)
    if truth_labels is not None and len(truth_labels) != len(t):
        raise ValueError(f"got {len(truth_labels)} truth labels for {len(t)} true directions")
    has_3d = any(not r.grid.is_azimuth_only for r in results)
    n = len(results)
    ncols = min(n, 4)
    nrows_blocks = -(-n // ncols)
    rows_per_block = 2 if has_3d else 1
    width = max(3.6 * ncols, 5.0)
    caption = ("top view: 0° = front (+x), azimuth counter-clockwise (+90° = left); radius: spectrum scaled to [0, 1]"
               + ("; map: spectrum, 5th percentile to max" if has_3d else ""))
    # constrained layout keeps the figure title, the panel titles and the legend apart
    fig = Figure(figsize=(width, (4.1 + (2.6 if has_3d else 0.0)) * nrows_blocks + 1.0), layout="constrained")
    gs = fig.add_gridspec(nrows_blocks * rows_per_block, ncols,
                          height_ratios=([3.9, 2.4] if has_3d else [1.0]) * nrows_blocks)
    legend_handles: dict[str, Any] = {}
    for i, r in enumerate(results):
        block, col = divmod(i, ncols)
        colour = _METHOD_COLOURS[i % len(_METHOD_COLOURS)]
        ax = fig.add_subplot(gs[block * rows_per_block, col], projection="polar")
        az, val = azimuth_marginal(r.spectrum, r.grid)
        # min-max scaled for display: broad spectra (SRP, GCC) keep a high floor that would
        # otherwise hide their peaks
        lo, hi = float(np.min(val)), float(np.max(val))
        span = hi - lo if hi > lo else 1.0
        val = (val - lo) / span
        th = np.deg2rad(np.append(az, az[0] + 360.0))
        v = np.append(val, val[0])
        ax.plot(th, v, color=colour, lw=1.4)
        ax.fill(th, v, color=colour, alpha=0.15)
        for k, (a, e) in enumerate(t):
            ax.plot([0, np.deg2rad(a)], [0, 1.08], color=_TRUTH_COLOUR, lw=0.8, ls="--", alpha=0.6)
            h = ax.plot(np.deg2rad(a), 1.0, marker="*", ms=14, color=_TRUTH_COLOUR, ls="none", mec="k", mew=0.5)[0]
            legend_handles.setdefault("truth", h)
        est_p = np.clip((np.asarray(r.power, dtype=float) - lo) / span, 0, 1.05)
        ok = r.accepted
        if ok.any():
            h = ax.plot(np.deg2rad(r.azimuth[ok]), est_p[ok], marker="o", ms=7, ls="none", mfc="none", mec="k", mew=1.5)[0]
            legend_handles.setdefault("estimate", h)
        if not ok.all():
            h = ax.plot(np.deg2rad(r.azimuth[~ok]), est_p[~ok], marker="x", ms=7, ls="none", color="0.45", mew=1.5)[0]
            legend_handles.setdefault("rejected", h)
        _style_polar(ax)
        ax.set_title(f"{r.method}\n{_estimate_text(r)}", fontsize=10, pad=12)
        if has_3d:
            ax2 = fig.add_subplot(gs[block * rows_per_block + 1, col])
            if r.grid.is_azimuth_only:
                ax2.set_axis_off()
                ax2.text(0.5, 0.5, "azimuth-only grid", ha="center", va="center", transform=ax2.transAxes)
            else:
                _azel_map(ax2, r, t)
    labels = {"estimate": "estimate (o)", "rejected": "no source: rejected peak (x)", "truth": "true direction (*)"}
    if truth_labels is not None and len(t):
        labels["truth"] = "true: " + ", ".join(f"{lab} {_deg(a)}°" for lab, (a, _) in zip(truth_labels, t))
    leg = fig.legend([legend_handles[k] for k in legend_handles], [labels[k] for k in legend_handles],
                     loc="outside lower center", ncol=3, fontsize=9, frameon=False,
                     title=_wrap(caption, width), title_fontsize=8)
    leg.get_title().set_color("0.3")
    if title:
        fig.suptitle(_wrap(title, width), fontsize=11)
    return fig


def _wrap(text: str, width_in: float, chars_per_inch: float = 13.0) -> str:
    """``text`` broken into lines that fit a figure ``width_in`` inches wide (about 9-point text)."""
    import textwrap

    return "\n".join(textwrap.wrap(text, max(20, int(width_in * chars_per_inch))))


def _estimate_text(r: "DOAResult") -> str:
    """Panel subtitle: accepted estimates with their confidence, or why there is no source."""
    ok = r.accepted
    parts = []
    for k in np.flatnonzero(ok):
        ang = f"{_deg(r.azimuth[k])}°" if r.grid.is_azimuth_only else f"{_deg(r.azimuth[k])}°/{_deg(r.elevation[k])}°"
        c = None if r.confidence is None else float(r.confidence[k])
        parts.append(ang + ("" if c is None or not np.isfinite(c) else f" ({c:.2f})"))
    if parts:
        return "estimate: " + ", ".join(parts)
    return f"no source ({r.window_decision})"


def map_colour_range(spectrum: np.ndarray, low_percentile: float = 5.0) -> tuple[float, float]:
    """Colour range of an az/el map: ``(5th percentile, max)`` of the spectrum.

    Broad spectra (SRP-PHAT on a small array) sit between about 0.8 and 1 of their maximum, so
    a range from 0 shows almost no contrast; the percentile keeps a few outliers from setting it.
    """
    s = np.asarray(spectrum, dtype=float)
    s = s[np.isfinite(s)]
    if s.size == 0:
        return 0.0, 1.0
    lo, hi = float(np.percentile(s, low_percentile)), float(s.max())
    return (lo, hi) if hi > lo else (hi - 1.0, hi)


def _azel_map(ax, r: "DOAResult", t: np.ndarray) -> None:
    g = r.grid
    s = np.asarray(r.spectrum, dtype=float)
    vmin, vmax = map_colour_range(s)
    sc = ax.scatter(g.azimuth_deg, g.elevation_deg, c=s, s=6, cmap="viridis", vmin=vmin, vmax=vmax)
    ok = r.accepted
    ax.scatter(r.azimuth[ok], r.elevation[ok], marker="o", s=60, facecolors="none", edgecolors="w", linewidths=1.5)
    ax.scatter(r.azimuth[~ok], r.elevation[~ok], marker="x", s=50, color="w", linewidths=1.5)
    if len(t):
        ax.scatter(t[:, 0], t[:, 1], marker="*", s=120, color=_TRUTH_COLOUR, edgecolors="k", linewidths=0.5)
    for coll in ax.collections:  # markers at the poles stay inside the axes
        coll.set_clip_on(True)
    ax.set_xlim(180, -180)  # left = +azimuth, as in the top view
    ax.set_ylim(max(-90.0, min(-5.0, g.elevation_deg.min() - 2)), min(90.0, max(5.0, g.elevation_deg.max() + 2)))
    ax.set_xticks([180, 90, 0, -90, -180])
    ax.set_xlabel("azimuth (°)", fontsize=8)
    ax.set_ylabel("elevation (°)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.figure.colorbar(sc, ax=ax, fraction=0.05, pad=0.02).ax.tick_params(labelsize=6)


def plot_doa_vs_time(
    frame_results: "Sequence[DOAResult]",
    path: str | Path,
    truth: np.ndarray | Sequence[Sequence[float]] | None = None,
    *,
    title: str | None = None,
) -> Path:
    """Directions over time from per-window results (e.g. ``Localizer.locate_frames``).

    Args:
        frame_results: results of one or more methods (grouped by ``method``), each with
            ``start`` / ``end`` in seconds.
        path: output file, written atomically.
        truth: optional ``(N, 2)`` static true ``[azimuth, elevation]`` in degrees, drawn as
            dashed red lines.
        title: figure title.

    One row per method: the azimuth spectrum (marginal over elevation for 3-D grids, min-max
    scaled per window) as an image over time, one column per window centred on the window's
    centre (windows may overlap: ``hop < frame length``), with the accepted estimates as dots at
    the window centres sized by their confidence. Windows that report no source are hatched and
    their rejected peaks drawn as grey crosses. When a method has a 3-D grid, a second column
    shows its elevation estimates over time.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    return _save(doa_vs_time_figure(frame_results, truth, title=title), path)


def doa_vs_time_figure(
    frame_results: "Sequence[DOAResult]",
    truth: np.ndarray | Sequence[Sequence[float]] | None = None,
    *,
    title: str | None = None,
):
    """The figure of :func:`plot_doa_vs_time` (not saved): one row of axes per method, in order of
    first appearance; the first column holds the azimuth-vs-time panel."""
    from matplotlib.figure import Figure

    frame_results = list(frame_results)
    if not frame_results:
        raise ValueError("nothing to plot: no results")
    t = _truth_array(truth)
    methods: dict[str, list] = {}
    for r in frame_results:
        methods.setdefault(r.method, []).append(r)
    has_3d = any(not r.grid.is_azimuth_only for r in frame_results)
    nrows = len(methods)
    fig = Figure(figsize=(9.5 if has_3d else 7.5, 2.6 * nrows + 0.8))
    axes = fig.subplots(nrows, 2 if has_3d else 1, squeeze=False,
                        gridspec_kw={"width_ratios": [3, 1.4]} if has_3d else None)
    for row, (method, rs) in enumerate(methods.items()):
        rs = sorted(rs, key=lambda r: r.start)
        ax = axes[row, 0]
        starts = np.array([r.start for r in rs], dtype=float)
        ends = np.array([r.end if r.end is not None else r.start for r in rs], dtype=float)
        if np.any(ends <= starts):  # unknown ends: use the next window start
            step = np.median(np.diff(starts)) if len(starts) > 1 else 1.0
            ends = np.where(ends > starts, ends, starts + step)
        centres = 0.5 * (starts + ends)
        edges_t = _centred_edges(centres)  # each column centred on its window's centre
        margs = [azimuth_marginal(r.spectrum, r.grid) for r in rs]
        same_axis = all(m[0].shape == margs[0][0].shape for m in margs)
        if same_axis:
            img = np.stack([_minmax(m[1]) for m in margs], axis=1)  # (A, T)
            az = margs[0][0]
            half = 0.5 * (az[1] - az[0]) if len(az) > 1 else 0.5
            edges_a = np.append(az - half, az[-1] + half)
            ax.pcolormesh(edges_t, edges_a, img, cmap="Greys", vmin=0, vmax=1, shading="flat")
        for k, (a, _) in enumerate(t):
            ax.axhline(a, color=_TRUTH_COLOUR, ls="--", lw=1.2, label="truth" if k == 0 else None)
        silent = [i for i, r in enumerate(rs) if not r.accepted.any()]
        for j, i in enumerate(silent):  # windows without a source: hatched
            ax.axvspan(edges_t[i], edges_t[i + 1], facecolor=(1, 1, 1, 0.6), hatch="///", edgecolor="0.55", lw=0,
                       zorder=2, label="no source" if j == 0 else None)
        x = np.concatenate([np.full(len(r.azimuth), c) for r, c in zip(rs, centres)]) if rs else np.zeros(0)
        y = np.concatenate([np.asarray(r.azimuth, float) for r in rs]) if rs else np.zeros(0)
        ok = np.concatenate([r.accepted for r in rs]) if rs else np.zeros(0, dtype=bool)
        conf = np.concatenate([_size_weight(r) for r in rs]) if rs else np.zeros(0)
        colour = _METHOD_COLOURS[row % len(_METHOD_COLOURS)]
        if (~ok).any():
            ax.scatter(x[~ok], y[~ok], s=22, marker="x", color="0.35", linewidths=1.0, zorder=3, label="rejected peak")
        ax.scatter(x[ok], y[ok], s=12 + 40 * np.clip(conf[ok], 0, 1), color=colour, edgecolors="k", linewidths=0.4,
                   zorder=4, label="estimate")
        ax.set_ylim(-180, 180)
        ax.set_yticks(np.arange(-180, 181, 90))
        ax.set_xlim(starts.min(), ends.max())
        ax.set_ylabel("azimuth (°)", fontsize=9)
        ax.set_title(method, fontsize=10, loc="left")
        ax.legend(loc="upper right", fontsize=7, framealpha=0.8)
        if has_3d:
            ax2 = axes[row, 1]
            el = np.concatenate([np.asarray(r.elevation, float) for r in rs])
            ax2.scatter(x[~ok], el[~ok], s=18, marker="x", color="0.35", linewidths=1.0)
            ax2.scatter(x[ok], el[ok], s=14, color=colour, edgecolors="k", linewidths=0.4)
            for a, e in t:
                ax2.axhline(e, color=_TRUTH_COLOUR, ls="--", lw=1.2)
            ax2.set_ylim(-90, 90)
            ax2.set_ylabel("elevation (°)", fontsize=9)
            ax2.set_xlim(starts.min(), ends.max())
    for ax in axes[-1]:
        ax.set_xlabel("time (s)", fontsize=9)
    head = title + " — " if title else ""
    fig.suptitle(head + "DOA vs time (azimuth CCW from front; spectrum per window in grey, darker = stronger; "
                 "dot size = confidence; hatched = no source)", fontsize=9)
    fig.tight_layout()
    return fig


def _centred_edges(centres: np.ndarray) -> np.ndarray:
    """Column edges ``(T + 1,)`` half way between window centres ``(T,)``, so each column is centred on its window."""
    c = np.asarray(centres, dtype=float)
    if len(c) == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = 0.5 * (c[1:] + c[:-1])
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


def _minmax(v: np.ndarray) -> np.ndarray:
    lo, hi = float(np.min(v)), float(np.max(v))
    return (v - lo) / (hi - lo) if hi > lo else np.zeros_like(v)


def _size_weight(r: "DOAResult") -> np.ndarray:
    """Marker size weight in [0, 1] per candidate: the confidence, or the power when there is none."""
    if r.confidence is not None and np.all(np.isfinite(r.confidence)):
        return np.asarray(r.confidence, dtype=float)
    return np.asarray(r.power, dtype=float)


def plot_training_curves(history: Sequence[dict[str, Any]], path: str | Path, *, title: str | None = None) -> Path:
    """Training and validation loss per epoch (log scale) with the learning rate on a second axis.

    Args:
        history: one dict per epoch with ``epoch``, ``train_loss``, ``val_loss`` (may be ``None``) and
            ``lr`` (e.g. :func:`soundloc.train.read_log` or a checkpoint's history).
        path: output image, written atomically.
        title: figure title.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    from matplotlib.figure import Figure

    if not history:
        raise ValueError("no epochs to plot")
    ep = np.array([float(r["epoch"]) + 1 for r in history])
    fig = Figure(figsize=(6.4, 3.6))
    ax = fig.add_subplot(1, 1, 1)
    for key, colour in (("train_loss", "tab:blue"), ("val_loss", "tab:orange")):
        y = np.array([np.nan if r.get(key) is None else float(r[key]) for r in history])
        if np.any(np.isfinite(y)):
            ax.plot(ep, y, marker="o", ms=3, color=colour, label=key.replace("_", " "))
    from matplotlib.ticker import MaxNLocator

    ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.grid(True, alpha=0.3)
    ax2 = ax.twinx()
    ax2.plot(ep, [float(r["lr"]) for r in history], color="0.5", ls=":", label="learning rate")
    ax2.set_ylabel("learning rate", color="0.4")
    lines = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(lines, [str(h.get_label()) for h in lines], fontsize=8, loc="upper right")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


# ---------------------------------------------------------------------------------------------------
# audio-visual localization: heatmaps over frames
# ---------------------------------------------------------------------------------------------------


def _av_panel(ax, frame: np.ndarray, heatmap: np.ndarray, boxes: np.ndarray | None, title: str | None, alpha: float) -> None:
    from matplotlib.patches import Rectangle

    img = np.asarray(frame, dtype=np.float64)
    if img.ndim == 3 and img.shape[0] == 3:  # (3, H, W) -> (H, W, 3)
        img = img.transpose(1, 2, 0)
    if img.max() > 1.0:
        img = img / 255.0
    h = np.asarray(heatmap, dtype=np.float64)
    lo, hi = float(h.min()), float(h.max())
    h = (h - lo) / (hi - lo) if hi > lo else np.zeros_like(h)
    ax.imshow(np.clip(img, 0, 1), interpolation="nearest")
    ax.imshow(h, cmap="jet", alpha=alpha, vmin=0, vmax=1, interpolation="bilinear",
              extent=(-0.5, img.shape[1] - 0.5, img.shape[0] - 0.5, -0.5))
    for b in np.asarray(boxes if boxes is not None else np.zeros((0, 4))).reshape(-1, 4):
        x0, y0, x1, y1 = (float(v) for v in b)
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor="white", linewidth=1.5))
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=7)


def av_heatmap_figure(frame: np.ndarray, heatmap: np.ndarray, *, boxes: np.ndarray | None = None, title: str | None = None,
                      alpha: float = 0.5):
    """Figure of one frame (``(3, H, W)`` or ``(H, W, 3)``, floats in [0, 1] or 0-255) with a heatmap ``(H, W)``
    (min-max normalised, jet colours) on top and optional boxes ``(K, 4)`` ``x0, y0, x1, y1`` in pixels (exclusive
    ends; row 0 at the top) drawn in white."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 4))
    _av_panel(fig.add_subplot(1, 1, 1), frame, heatmap, boxes, title, alpha)
    return fig


def plot_av_heatmap(path: str | Path, frame: np.ndarray, heatmap: np.ndarray, **kwargs: Any) -> Path:
    """Write :func:`av_heatmap_figure` to ``path`` (format from the suffix), atomically."""
    return _save(av_heatmap_figure(frame, heatmap, **kwargs), path)


def av_grid_figure(frames: Sequence[np.ndarray], heatmaps: Sequence[np.ndarray], *, boxes: Sequence[np.ndarray | None] | None = None,
                   titles: Sequence[str] | None = None, ncols: int = 4, alpha: float = 0.5, suptitle: str | None = None):
    """Grid of frames with heatmaps and boxes (see :func:`av_heatmap_figure`), ``ncols`` per row."""
    from matplotlib.figure import Figure

    n = len(frames)
    if n == 0 or len(heatmaps) != n:
        raise ValueError(f"av_grid_figure needs as many heatmaps as frames (at least one), got {n} and {len(heatmaps)}")
    ncols = max(1, min(int(ncols), n))
    nrows = -(-n // ncols)
    fig = Figure(figsize=(2.2 * ncols, 2.4 * nrows))
    for i in range(n):
        _av_panel(fig.add_subplot(nrows, ncols, i + 1), frames[i], heatmaps[i], None if boxes is None else boxes[i],
                  None if titles is None else titles[i], alpha)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    return fig


def plot_av_grid(path: str | Path, frames: Sequence[np.ndarray], heatmaps: Sequence[np.ndarray], **kwargs: Any) -> Path:
    """Write :func:`av_grid_figure` to ``path``, atomically."""
    return _save(av_grid_figure(frames, heatmaps, **kwargs), path)
