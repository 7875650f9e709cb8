"""Tests for soundloc.plots: marginals against brute force, axis conventions, files written."""

from __future__ import annotations

import numpy as np
import pytest

from soundloc.doa import DOAResult
from soundloc.geometry import AzimuthGrid, SphereGrid, unit_vectors_deg
from soundloc.plots import (
    azimuth_marginal,
    doa_vs_time_figure,
    plot_doa_vs_time,
    plot_polar_spectrum,
    polar_spectrum_figure,
)


def _result(grid, peaks_deg, method="srp-phat", start=0.0, end=1.0) -> DOAResult:
    """A result whose spectrum has von Mises bumps at ``peaks_deg`` [(az, el), ...]."""
    s = np.zeros(len(grid))
    for k, (az, el) in enumerate(peaks_deg):
        s += (1.0 - 0.3 * k) * np.exp(20 * (grid.directions @ unit_vectors_deg(az, el) - 1))
    s /= s.max()
    idx = grid.find_peaks(s, len(peaks_deg))
    return DOAResult(method, grid.azimuth_deg[idx], grid.elevation_deg[idx], s[idx], s, grid, start, end)


def _is_png(p) -> bool:
    return p.is_file() and p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_azimuth_marginal_on_azimuth_grid_is_the_spectrum_sorted():
    g = AzimuthGrid(72)
    rng = np.random.default_rng(0)
    s = rng.random(72)
    az, v = azimuth_marginal(s, g)
    np.testing.assert_allclose(az, g.azimuth_deg)  # already sorted: -175 ... 180
    np.testing.assert_allclose(v, s)


def test_azimuth_marginal_sphere_is_max_over_elevation():
    g = SphereGrid(3000)
    rng = np.random.default_rng(1)
    s = rng.random(len(g))
    az, v = azimuth_marginal(s, g, bin_deg=10.0)
    assert len(az) == 36 and np.all(np.diff(az) > 0)
    # brute force: max over the grid points whose azimuth falls in each 10-degree bin
    for a, val in zip(az, v):
        sel = (g.azimuth_deg >= a - 5.0) & (g.azimuth_deg < a + 5.0)
        assert val == pytest.approx(s[sel].max())
    # a spectrum that depends on elevation only has a flat marginal
    az, v = azimuth_marginal(np.cos(g.elevation), g)
    assert np.ptp(v) < 0.01 and v.max() == pytest.approx(np.cos(g.elevation).max())


def test_azimuth_marginal_fills_empty_bins_and_checks_size():
    from soundloc.geometry import DOAGrid

    g = DOAGrid(unit_vectors_deg(np.array([0.0, 90.0, 180.0, -90.0]), np.zeros(4)))
    az, v = azimuth_marginal(np.array([1.0, 2.0, 3.0, 2.0]), g, bin_deg=45.0)
    np.testing.assert_allclose(az, -157.5 + 45 * np.arange(8))
    # occupied bins (180 -> [-180, -135), -90, 0, 90) keep their value; the empty ones between
    # them are interpolated around the circle
    np.testing.assert_allclose(v, [3.0, 2.5, 2.0, 1.5, 1.0, 1.5, 2.0, 2.5])
    with pytest.raises(ValueError, match="3 points, grid has 4"):
        azimuth_marginal(np.ones(3), g)


def test_polar_axes_convention_front_up_ccw():
    g = AzimuthGrid(360)
    fig = polar_spectrum_figure([_result(g, [(90.0, 0.0)])], truth=[[90.0, 0.0]])
    polar = [ax for ax in fig.axes if ax.name == "polar"]
    assert len(polar) == 1
    ax = polar[0]
    cx, cy = ax.transData.transform((0.0, 0.0))
    front = ax.transData.transform((0.0, 1.0))
    left = ax.transData.transform((np.deg2rad(90.0), 1.0))
    right = ax.transData.transform((np.deg2rad(-90.0), 1.0))
    assert front[1] > cy and abs(front[0] - cx) < 1e-6  # 0 deg at the top
    assert left[0] < cx and right[0] > cx  # +90 deg (left of the array) on the left
    # the drawn curve is the spectrum against azimuth in radians, closed around the circle
    th, r = ax.lines[0].get_data()
    np.testing.assert_allclose(th[:-1], np.deg2rad(g.azimuth_deg))
    assert r[np.argmax(r)] == pytest.approx(1.0) and np.rad2deg(th[np.argmax(r)]) == pytest.approx(90.0)
    # tick labels in (-180, 180]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["0°", "45°", "90°", "135°", "180°", "-135°", "-90°", "-45°"]


def test_polar_one_panel_per_method_and_3d_second_panel(tmp_path):
    g2, g3 = AzimuthGrid(180), SphereGrid(1500)
    results = [_result(g2, [(30, 0), (-120, 0)], m) for m in ("gcc-phat", "srp-phat", "music")]
    fig = polar_spectrum_figure(results, truth=[[30, 0], [-120, 0]], truth_labels=["dog", "piano"])
    assert sum(ax.name == "polar" for ax in fig.axes) == 3
    assert [ax.get_title().split("\n")[0] for ax in fig.axes] == ["gcc-phat", "srp-phat", "music"]
    assert "dog 30°" in " ".join(t.get_text() for t in fig.legends[0].get_texts())
    r3 = _result(g3, [(45, 30)], "music")
    fig3 = polar_spectrum_figure([r3], truth=[[45, 30]])
    polar = [ax for ax in fig3.axes if ax.name == "polar"]
    flat = [ax for ax in fig3.axes if ax.name != "polar" and ax.get_xlabel().startswith("azimuth")]
    assert len(polar) == 1 and len(flat) == 1
    assert flat[0].get_ylabel().startswith("elevation")
    assert flat[0].get_xlim() == (180.0, -180.0)  # left = +azimuth, like the top view
    assert abs(r3.azimuth[0] - 45) < 4 and abs(r3.elevation[0] - 30) < 4
    assert f"{round(r3.azimuth[0])}°/{round(r3.elevation[0])}°" in polar[0].get_title()
    out = plot_polar_spectrum(results, tmp_path / "p.png", truth=[[30, 0], [-120, 0]])
    out3 = plot_polar_spectrum([_result(g3, [(45, 30)])], tmp_path / "p3.pdf")
    assert _is_png(out) and out3.read_bytes()[:4] == b"%PDF"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.png", "p3.pdf"]  # no temp files left


def test_doa_vs_time(tmp_path):
    g = AzimuthGrid(120)
    frames = [_result(g, [(10.0 * k, 0)], m, start=0.5 * k, end=0.5 * (k + 1)) for m in ("srp-phat", "music")
              for k in range(6)]
    fig = doa_vs_time_figure(frames, truth=[[20.0, 0.0]])
    axes = [ax for ax in fig.axes if ax.get_ylabel().startswith("azimuth")]
    assert [ax.get_title(loc="left") for ax in axes] == ["srp-phat", "music"]
    assert axes[0].get_xlim() == (0.0, 3.0)
    pts = axes[0].collections[-1].get_offsets()  # estimates at window centres
    np.testing.assert_allclose(pts[:, 0], 0.25 + 0.5 * np.arange(6))
    np.testing.assert_allclose(pts[:, 1], g.azimuth_deg[[g.find_peaks(f.spectrum, 1)[0] for f in frames[:6]]])
    g3 = SphereGrid(800)
    fig3 = doa_vs_time_figure([_result(g3, [(0, 40)], start=k, end=k + 1) for k in range(3)])
    assert any(ax.get_ylabel().startswith("elevation") for ax in fig3.axes)
    assert _is_png(plot_doa_vs_time(frames, tmp_path / "t.png", truth=[[20.0, 0.0]]))


def test_plot_input_errors(tmp_path):
    g = AzimuthGrid(36)
    with pytest.raises(ValueError, match="no results"):
        plot_polar_spectrum([], tmp_path / "x.png")
    with pytest.raises(ValueError, match="no results"):
        plot_doa_vs_time([], tmp_path / "x.png")
    with pytest.raises(ValueError, match="truth must be"):
        plot_polar_spectrum([_result(g, [(0, 0)])], tmp_path / "x.png", truth=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="truth labels"):
        plot_polar_spectrum([_result(g, [(0, 0)])], tmp_path / "x.png", truth=[[0, 0]], truth_labels=["a", "b"])
    assert not list(tmp_path.iterdir())


def _render(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


@pytest.mark.parametrize("n", [1, 2])
def test_polar_titles_do_not_overlap(n):
    g = AzimuthGrid(360)
    results = [_result(g, [(30.0 * (k + 1), 0.0)], m) for k, m in enumerate(["srp-phat", "music"][:n])]
    fig = polar_spectrum_figure(results, truth=[[30.0, 0.0]], title="a_rather_long_recording_name_for_a_title.wav")
    renderer = _render(fig)
    sup = fig._suptitle.get_window_extent(renderer)
    legend = fig.legends[0].get_window_extent(renderer)
    for ax in [a for a in fig.axes if a.name == "polar"]:
        title = ax.title.get_window_extent(renderer)
        assert not _overlap(sup, title)
        assert not _overlap(legend, ax.get_tightbbox(renderer))
    assert "0° = front" in fig.legends[0].get_title().get_text()  # the convention is still stated


def test_doa_vs_time_columns_centred_on_windows_when_hop_below_frame():
    g = AzimuthGrid(90)
    frames = [_result(g, [(20.0, 0.0)], start=0.25 * k, end=0.25 * k + 1.0) for k in range(8)]  # hop 0.25, frame 1
    fig = doa_vs_time_figure(frames)
    ax = fig.axes[0]
    mesh = next(c for c in ax.collections if c.__class__.__name__ == "QuadMesh")
    edges = mesh.get_coordinates()[0, :, 0]  # (T + 1,) time edges
    centres = ax.collections[-1].get_offsets()[:, 0]
    np.testing.assert_allclose(centres, 0.5 + 0.25 * np.arange(8))
    np.testing.assert_allclose(0.5 * (edges[:-1] + edges[1:]), centres)  # each marker mid-column
    assert np.all(np.diff(edges) > 0)


def test_doa_vs_time_shows_no_source_windows():
    g = AzimuthGrid(90)
    frames = []
    for k in range(4):
        r = _result(g, [(40.0, 0.0)], start=float(k), end=k + 1.0)
        if k in (1, 3):
            r = DOAResult(r.method, r.azimuth, r.elevation, r.power, r.spectrum, r.grid, r.start, r.end,
                          confidence=np.array([0.3]), level_dbfs=-30.0, decision=("below-confidence",))
        frames.append(r)
    fig = doa_vs_time_figure(frames)
    ax = fig.axes[0]
    hatched = [p for p in ax.patches if p.get_hatch()]
    assert len(hatched) == 2
    spans = sorted((float(p.get_x()), float(p.get_x() + p.get_width())) for p in hatched)
    assert spans == [(1.0, 2.0), (3.0, 4.0)]
    np.testing.assert_allclose(ax.collections[-1].get_offsets()[:, 0], [0.5, 2.5])  # accepted only
    rejected = [c for c in ax.collections if c.get_label() == "rejected peak"]
    np.testing.assert_allclose(rejected[0].get_offsets()[:, 0], [1.5, 3.5])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "no source" in labels


def test_polar_panel_says_no_source():
    g = AzimuthGrid(90)
    r = _result(g, [(40.0, 0.0)])
    r = DOAResult(r.method, r.azimuth, r.elevation, r.power, r.spectrum, r.grid, confidence=np.array([0.2]),
                  level_dbfs=-95.0, decision=("below-level",))
    fig = polar_spectrum_figure([r])
    assert "no source (below-level)" in fig.axes[0].get_title()


def test_azel_map_contrast_and_pole_markers_inside():
    from soundloc.plots import map_colour_range

    g = SphereGrid(2000)
    r = _result(g, [(20.0, 89.0)])
    s = 0.85 + 0.15 * r.spectrum  # a broad SRP-like spectrum: 0.85 .. 1
    r = DOAResult(r.method, r.azimuth, r.elevation, s[g.find_peaks(s, 1)], s, g)
    lo, hi = map_colour_range(s)
    assert lo == pytest.approx(np.percentile(s, 5)) and hi == pytest.approx(s.max())
    fig = polar_spectrum_figure([r], truth=[[20.0, 90.0]])
    ax = next(a for a in fig.axes if a.name != "polar" and a.get_xlabel().startswith("azimuth"))
    norm = ax.collections[0].norm
    assert (norm.vmin, norm.vmax) == pytest.approx((lo, hi))
    # the colour scale runs from the map's background to its peak (it used to put 0.85 .. 1 on [0.85, 1])
    assert float(norm(np.percentile(s, 5))) == pytest.approx(0.0) and float(norm(s.max())) == pytest.approx(1.0)
    assert float(norm(0.925)) < 0.6
    y0, y1 = ax.get_ylim()
    assert -90.0 <= y0 and y1 <= 90.0
    assert all(c.get_clip_on() for c in ax.collections)
