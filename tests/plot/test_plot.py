"""Figure functions draw the expected artists into the axes they are given (Agg)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

import spectral as sp
from spectral import plot


def _ax():  # type: ignore[no-untyped-def]
    return Figure().subplots()


def test_plot_spectrum_extent_is_in_cycles_per_pixel() -> None:
    ax = _ax()
    spec = sp.magnitude_spectrum(torch.rand(1, 1, 8, 6))[0, 0]
    im = plot.plot_spectrum(ax, spec, title="t", vmin=0, vmax=1)
    assert list(ax.images) == [im]
    np.testing.assert_allclose(im.get_array(), spec.numpy())
    left, right, bottom, top = im.get_extent()
    # 6 columns: bins -3/6 .. 2/6, each drawn 1/6 wide around its centre
    assert (left, right) == pytest.approx((-0.5 - 1 / 12, 2 / 6 + 1 / 12))
    assert (top, bottom) == pytest.approx((-0.5 - 1 / 16, 3 / 8 + 1 / 16))
    assert im.get_clim() == (0, 1)
    assert ax.get_title() == "t"
    assert len(ax.figure.axes) == 2  # the colour bar


def test_plot_spectrum_rejects_non_2d() -> None:
    with pytest.raises(ValueError, match="2-D"):
        plot.plot_spectrum(_ax(), torch.zeros(2, 3, 3))


def test_radial_profile_lines_skip_dc_and_label_slopes() -> None:
    ax = _ax()
    radii = torch.tensor([0.0, 0.1, 0.2, 0.4])
    lines = plot.plot_radial_profile(
        ax, radii, {"a": radii**-2, "b": torch.tensor([1.0, 0.0, 1.0, 2.0])}, slopes={"a": -2.0}
    )
    assert len(lines) == 2
    np.testing.assert_allclose(lines[0].get_xdata(), [0.1, 0.2, 0.4])
    np.testing.assert_allclose(lines[1].get_xdata(), [0.2, 0.4])  # zero power left out
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert "slope -2.00" in lines[0].get_label()


def test_band_energy_bars() -> None:
    ax = _ax()
    bars = plot.plot_band_energy(ax, {"clean": [0.7, 0.2, 0.1], "adv": [0.1, 0.3, 0.6]})
    assert len(bars) == 2 and all(len(b) == 3 for b in bars)
    np.testing.assert_allclose([r.get_height() for r in bars[1]], [0.1, 0.3, 0.6])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["low", "mid", "high"]


def test_comparison_figure_shares_scales() -> None:
    x = torch.rand(2, 3, 16, 16)
    cmp = sp.compare_spectra(x, (x + 0.03 * torch.randn_like(x)).clamp(0, 1))
    fig = plot.comparison_figure(cmp, index=1)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 9  # 3 rows x R, G, B
    assert {im.get_clim() for im in images[:6]} == {(0, 1)}
    lims = {im.get_clim() for im in images[6:]}
    assert len(lims) == 1 and next(iter(lims))[0] == -next(iter(lims))[1]  # symmetric, shared


def test_spectrum_figure_rows_and_mixed_channels() -> None:
    grey = sp.magnitude_spectrum(torch.rand(1, 1, 8, 8))[0]
    rgb = sp.magnitude_spectrum(torch.rand(1, 3, 8, 8))[0]
    fig = plot.spectrum_figure([rgb, grey], row_labels=["rgb", "grey"])
    drawn = [ax for ax in fig.axes if ax.images]
    assert len(drawn) == 4  # 3 channels + 1 grey; the grey row's extra panels are switched off
    with pytest.raises(ValueError, match="labels"):
        plot.spectrum_figure([rgb], row_labels=["a", "b"])


def test_save_figure_writes_png(tmp_path) -> None:  # type: ignore[no-untyped-def]
    fig, axes = plot.new_figure(1, 2)
    assert axes.shape == (1, 2)
    p = plot.save_figure(fig, tmp_path / "f.png")
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_feature_spectra_figure_rows_and_shared_scales() -> None:
    from spectral.analysis import FeatureSpectra

    g = torch.Generator().manual_seed(0)
    clean = torch.rand(8, 16, 16, generator=g) + 0.1
    adv = clean * 1.5
    diff = torch.rand(8, 16, 16, generator=g)
    fs = FeatureSpectra(layer="conv", clean=clean, adversarial=adv, perturbation=diff, count=4)
    fig = plot.feature_spectra_figure(fs, max_rows=3)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 9  # 3 maps x clean / adversarial / perturbation
    for row in range(3):
        c, a, d = images[3 * row : 3 * row + 3]
        assert d.get_cmap().name == "viridis"  # the perturbation has its own colour map
        assert c.get_clim() == a.get_clim()  # clean and adversarial share a scale per row
        np.testing.assert_allclose(
            a.get_array() - c.get_array(), np.log10(1.5), rtol=1e-5
        )  # log10 power: the x1.5 shows as a constant offset
    assert "map 0: clean" in [ax.get_title() for ax in fig.axes]
    assert "map 7: perturbation" in [ax.get_title() for ax in fig.axes]  # evenly spaced, ends kept
    fig = plot.feature_spectra_figure(fs, channels=[2, 5])
    assert len([ax for ax in fig.axes if ax.images]) == 6


def test_defense_bars_heights_in_percent() -> None:
    ax = _ax()
    rows = [
        {"defense": "baseline", "accuracy": 0.9, "attack_success_rate": 0.8},
        {"defense": "input 3x3", "accuracy": 0.75, "attack_success_rate": 0.6},
    ]
    bars = plot.plot_defense_bars(ax, rows)
    assert len(bars) == 2
    np.testing.assert_allclose([r.get_width() for r in bars[0]], [90.0, 75.0])
    np.testing.assert_allclose([r.get_width() for r in bars[1]], [80.0, 60.0])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["baseline", "input 3x3"]


def test_filter_metric_lines_and_grid() -> None:
    from spectral.analysis import filter_metrics

    model = sp.models.SmallCNN(width=4)
    rows = filter_metrics(model)
    ax = _ax()
    lines = plot.plot_filter_metric(ax, {"a": rows, "b": rows[:3]}, "orthogonality")
    assert [len(line.get_xdata()) for line in lines] == [5, 3]
    np.testing.assert_allclose(lines[0].get_ydata(), [r["orthogonality"] for r in rows])
    ax = _ax()
    w = model.features.conv1.weight  # (4, 3, 3, 3): RGB tiles
    im = plot.plot_filter_grid(ax, w)
    arr = im.get_array()
    assert arr.shape == (2 * 4 - 1, 2 * 4 - 1, 3)  # 2x2 tiles of 3x3 with 1-px gaps
    tile = arr[:3, :3]
    assert tile.min() == 0.0 and tile.max() == 1.0  # each tile scaled on its own
    grey = plot.plot_filter_grid(_ax(), model.features.conv2.weight[:5])
    assert grey.get_array().ndim == 2  # non-RGB input: mean over input channels, grey


def test_reliability_and_confidence_histogram() -> None:
    from spectral.metrics import calibration_bins

    logits = torch.tensor([[3.0, 0.0], [0.0, 1.0], [2.0, 0.0], [0.0, 0.5]])
    labels = torch.tensor([0, 0, 0, 1])
    bins = calibration_bins(logits, labels, n_bins=5)
    ax = _ax()
    (line,) = plot.plot_reliability(ax, {"clean": bins})
    filled = [b for b in bins if b["count"]]
    np.testing.assert_allclose(line.get_xdata(), [b["confidence"] for b in filled])
    np.testing.assert_allclose(line.get_ydata(), [b["accuracy"] for b in filled])
    ax = _ax()
    conf = torch.softmax(logits, 1).max(1).values
    (patches,) = plot.plot_confidence_histogram(ax, {"clean": conf}, n_bins=5)
    assert len(patches) == 1 and ax.get_xlabel() == "confidence"


def test_heatmap_figure_shares_one_scale_and_draws_the_difference() -> None:
    a = torch.rand(8, 8, dtype=torch.float64) * 0.5
    b = torch.rand(8, 8, dtype=torch.float64)
    fig = plot.heatmap_figure({"A": a, "B": b}, eps=2.0, clean_error={"A": 0.1, "B": 0.25})
    ims = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(ims) == 3
    np.testing.assert_allclose(ims[0].get_array(), a.numpy())
    np.testing.assert_allclose(ims[2].get_array(), (b - a).numpy())
    assert ims[0].get_clim() == ims[1].get_clim() == (0.0, float(b.max()))
    lim = float((b - a).abs().max())
    assert ims[2].get_clim() == pytest.approx((-lim, lim))
    titles = [ax.get_title() for ax in fig.axes if ax.images]
    assert "clean error 10.0%" in titles[0] and "clean error 25.0%" in titles[1]
    assert "eps = 2" in fig.get_suptitle()
    # one map: no difference panel
    one = plot.heatmap_figure({"A": a})
    assert sum(1 for ax in one.axes if ax.images) == 1


def test_plot_attribution_maps_zero_to_grey_and_clips() -> None:
    a = torch.zeros(3, 4, 4, dtype=torch.float64)
    a[0, 0, 0] = 100.0  # one outlier above the 99th percentile is clipped
    a[1] = torch.linspace(-1, 1, 16).reshape(4, 4)
    ax = _ax()
    img = np.asarray(plot.plot_attribution(ax, a).get_array())
    assert img.shape == (4, 4, 3) and img.min() >= 0 and img.max() <= 1
    q = float(torch.quantile(a.abs().flatten(), 0.99))
    np.testing.assert_allclose(img[..., 2], 0.5)  # an all-zero channel is mid-grey
    np.testing.assert_allclose(img[..., 1], np.clip(0.5 + a[1].numpy() / (2 * q), 0, 1))
    assert img[0, 0, 0] == 1.0
    grey = plot.plot_attribution(_ax(), a[1:2])  # one channel: diverging, symmetric scale
    lo, hi = grey.get_clim()
    assert lo == -hi and grey.get_cmap().name == "RdBu_r"
    with pytest.raises(ValueError, match="C, H, W"):
        plot.plot_attribution(_ax(), a[0])


def test_gradient_figure_panels_and_bars_match_the_results() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.Tanh(), torch.nn.Flatten(),
        torch.nn.Linear(4 * 16 * 16, 3),
    )  # fmt: skip
    x, y = torch.rand(5, 3, 16, 16), torch.tensor([0, 1, 2, 0, 1])
    res = {"m1": sp.gradient_spectra(net, x, y, steps=4), "m2": sp.gradient_spectra(net, x, y)}
    fig = plot.gradient_figure(x, res, n_images=2)
    image_axes = [ax for ax in fig.axes if ax.images]
    assert len(image_axes) == 2 * (1 + 2 * 2)
    bar_ax = next(ax for ax in fig.axes if ax.get_title() == "band energy")
    heights = [p.get_height() for p in bar_ax.patches]
    want = []
    for row in (
        res["m1"].summary()["gradient"],
        res["m1"].summary()["integrated"],
        res["m2"].summary()["gradient"],
        res["m2"].summary()["integrated"],
        res["m1"].summary()["image"],
    ):
        want += [row["low"], row["mid"], row["high"]]
    np.testing.assert_allclose(heights, want)


def test_radial_profile_labels_octaves_on_a_short_axis() -> None:
    radii = torch.arange(17, dtype=torch.float64) / 32
    ax = _ax()
    plot.plot_radial_profile(ax, radii, {"p": 1.0 / (radii + 0.01)})
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["1/32", "1/16", "1/8", "1/4", "1/2"]
    np.testing.assert_allclose(ax.get_xticks(), [1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2])


def test_filter_grid_gaps_are_mid_grey() -> None:
    w = torch.randn(4, 1, 3, 3)
    im = plot.plot_filter_grid(_ax(), w)
    mosaic = np.asarray(im.get_array())
    assert mosaic.shape == (7, 7)
    np.testing.assert_allclose(mosaic[3, :], 0.5)  # the row between tile rows
    np.testing.assert_allclose(mosaic[:, 3], 0.5)
    assert mosaic[:3, :3].min() == 0.0 and mosaic[:3, :3].max() == 1.0  # a tile spans 0..1
