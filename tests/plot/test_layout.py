"""Publication layout: nothing clipped, legends off the data, labelled colour bars, counts."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

import spectral as sp
from spectral import plot

MAIN = "builtin:standard"  # the report's long default name, in the titles


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(4, 4, 3, padding=1),
        torch.nn.Flatten(), torch.nn.Linear(4 * 8 * 8, 3),
    )  # fmt: skip


def _blur_rows() -> tuple[list[dict[str, float | str]], list[dict[str, float | str]]]:
    names = ["baseline", "input 3x3", "input 5x5", "3x3 on L1 feature maps"]
    bb = [{"defense": n, "accuracy": 0.95, "attack_success_rate": 0.9} for n in names]
    ad = [{**r, "adversarial_accuracy": 0.97} for r in bb]
    return bb, ad


def _figures() -> Iterator[tuple[str, Figure]]:
    """Every figure the report and the commands make, from small inputs."""
    from spectral.analysis import (
        attack_analysis,
        calibration_analysis,
        dataset_spectrum,
        feature_spectra,
        filter_analysis,
        noise_baseline,
    )

    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(6, 3, 8, 8, generator=g), torch.tensor([0, 1, 2, 0, 1, 2])
    net, other = _net(), _net()
    analysis = attack_analysis(
        {MAIN: net, "builtin:adversarial": other}, x, y, attack="fgsm", eps=0.03
    )
    yield from attack_figures_named(analysis)
    fs = feature_spectra(net, x, analysis.adversarial[MAIN], "first_conv")["first_conv"]
    yield "feature_spectra", plot.feature_spectra_figure(fs, max_rows=2)
    cal = calibration_analysis(
        {MAIN: net}, x, y, {MAIN: analysis.adversarial[MAIN]}, attack="fgsm", eps=0.03
    )
    yield "calibration", plot.calibration_figure(cal)
    yield "blur", plot.blur_figure(*_blur_rows())
    maps = {MAIN: torch.rand(8, 8, generator=g), "builtin:adversarial": torch.rand(8, 8)}
    yield "heatmap", plot.heatmap_figure(maps, eps=4.0, clean_error={MAIN: 0.1})
    filters = filter_analysis({MAIN: net})
    yield "filters", plot.filter_figure(filters.layers, filters.first_layer)
    grads = {MAIN: sp.gradient_spectra(net, x, y, steps=2)}
    yield "gradients", plot.gradient_figure(x, grads, n_images=2)
    yield "dataset_spectrum", plot.dataset_spectrum_figure(dataset_spectrum(x))
    spectra, bands = plot.noise_figures(noise_baseline(x, 0.03))
    yield "noise_spectra", spectra
    yield "noise_band_energy", bands
    s = sp.spectrum_summary(x[:2])
    yield "summary", plot.summary_figure([s], row_labels=["a.png"], title="spectra")


def attack_figures_named(analysis: object) -> Iterator[tuple[str, Figure]]:
    yield from plot.attack_figures(analysis).items()


def _draw(fig: Figure) -> RendererAgg:
    """Lay out and draw ``fig`` on an Agg canvas; its renderer (for window extents)."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


@pytest.fixture(scope="module")
def figures() -> dict[str, Figure]:
    figs = dict(_figures())
    for fig in figs.values():
        _draw(fig)
    return figs


def _tick_labels(fig: Figure) -> set[int]:
    ids = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                ids |= {id(tick.label1), id(tick.label2)}
    return ids


def test_every_text_lies_inside_its_figure(figures: dict[str, Figure]) -> None:
    clipped = []
    for name, fig in figures.items():
        box = fig.bbox
        renderer = _draw(fig)
        ticks = _tick_labels(fig)  # those outside the view are never drawn: see the tight box
        for t in fig.findobj(Text):
            if id(t) in ticks or not t.get_visible() or not t.get_text().strip():
                continue
            e = t.get_window_extent(renderer)
            if e.x0 < box.x0 - 1 or e.x1 > box.x1 + 1 or e.y0 < box.y0 - 1 or e.y1 > box.y1 + 1:
                clipped.append(f"{name}: {t.get_text()!r}")
        tight = fig.get_tightbbox(renderer)  # inches: everything drawn, tick labels too
        w, h = fig.get_size_inches()
        if tight.x0 < -0.01 or tight.y0 < -0.01 or tight.x1 > w + 0.01 or tight.y1 > h + 0.01:
            clipped.append(f"{name}: drawn beyond the figure, {tight} in a {w} x {h} figure")
    assert clipped == []


def test_radial_profile_title_is_wrapped_not_clipped(figures: dict[str, Figure]) -> None:
    ax = figures["fig4_radial_profiles"].axes[0]
    assert ax.get_title().replace("\n", " ") == (
        f"Radial power, {MAIN} (mean over images and channels)"
    )
    assert "\n" in ax.get_title()


def test_every_colour_bar_is_labelled(figures: dict[str, Figure]) -> None:
    n, unlabelled = 0, []
    for name, fig in figures.items():
        for ax in fig.findobj(lambda a: hasattr(a, "_colorbar")):
            n += 1
            if not ax.get_ylabel().strip():
                unlabelled.append(name)
    assert n >= 20 and unlabelled == []


@pytest.mark.parametrize("which", ["blur", "whitebox"])
def test_defense_legends_cover_no_bar(figures: dict[str, Figure], which: str) -> None:
    if which == "blur":
        fig = figures["blur"]
    else:  # the white-box figure of `spectral blur`: three metrics, one panel
        fig, axes = plot.new_figure(1, 1, size=(7.0, 3.2))
        rows = [
            {"row": f"m{i}", "accuracy": 0.9, "avg_success_rate": 0.95, "worst_success_rate": 1.0}
            for i in range(4)
        ]
        metrics = ("accuracy", "avg_success_rate", "worst_success_rate")
        plot.plot_defense_bars(axes[0, 0], rows, metrics=metrics, label_key="row")
    renderer = _draw(fig)
    checked = 0
    for ax in fig.axes:
        legend = ax.get_legend()
        assert legend is not None
        lb = legend.get_window_extent(renderer)
        for bar in ax.patches:
            checked += 1
            assert not lb.overlaps(bar.get_window_extent(renderer)), ax.get_title()
        assert fig.bbox.x0 <= lb.x0 and lb.x1 <= fig.bbox.x1 + 1  # and it is not clipped
    assert checked >= 8


def test_reliability_bins_show_their_counts() -> None:
    from spectral.metrics import calibration_bins

    g = torch.Generator().manual_seed(1)
    logits = torch.randn(40, 3, generator=g) * 2
    labels = torch.randint(0, 3, (40,), generator=g)
    bins = calibration_bins(logits, labels, n_bins=10)
    ax = Figure().subplots()
    plot.plot_reliability(ax, {"clean": bins}, min_count=5)
    filled = [b for b in bins if b["count"]]
    texts = ax.texts
    assert [int(t.get_text()) for t in texts] == [int(b["count"]) for b in filled]
    for t, b in zip(texts, filled, strict=True):
        assert t.xy == pytest.approx((b["confidence"], b["accuracy"]))  # at its point
        faded = t.get_alpha() is not None and t.get_alpha() < 1
        assert faded == (b["count"] < 5)
    assert any(b["count"] < 5 for b in filled) and any(b["count"] >= 5 for b in filled)
    hollow = [ln for ln in ax.lines if ln.get_markerfacecolor() == "white"]
    assert len(hollow) == 1 and len(hollow[0].get_xdata()) == sum(b["count"] < 5 for b in filled)
    assert any("< 5 images" in t.get_text() for t in ax.get_legend().get_texts())


def test_save_figure_default_dpi_and_formats(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    fig, _ = plot.new_figure(1, 1, size=(2.0, 1.5))
    plot.save_figure(fig, tmp_path / "a.png")
    assert Image.open(tmp_path / "a.png").size == (400, 300)  # 200 dpi
    first = plot.save_figure(fig, tmp_path / "b.png", formats=("png", "pdf", "svg"))
    assert first == tmp_path / "b.png"
    assert (tmp_path / "b.pdf").read_bytes()[:4] == b"%PDF"
    assert (tmp_path / "b.svg").read_text().lstrip().startswith("<?xml")
    with pytest.raises(ValueError, match="formats"):
        plot.save_figure(fig, tmp_path / "c.png", formats=("png", "gif"))
    assert not (tmp_path / "c.png").exists()  # refused before anything was written
    np.testing.assert_array_equal(fig.get_size_inches(), [2.0, 1.5])
