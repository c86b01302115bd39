"""Matplotlib figures for spectra. The only module of :mod:`spectral` that imports matplotlib.

Every ``plot_*`` function draws into an ``ax`` it is given and returns what it drew;
nothing calls ``plt.show()``. The ``*_figure`` functions build a whole
:class:`matplotlib.figure.Figure` (no pyplot state) from those pieces.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg", force=False)
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, MaxNLocator, NullFormatter

__all__ = [
    "attack_figures",
    "blur_figure",
    "comparison_figure",
    "feature_spectra_figure",
    "filter_figure",
    "gradient_figure",
    "heatmap_figure",
    "new_figure",
    "plot_attribution",
    "plot_band_energy",
    "plot_confidence_histogram",
    "plot_defense_bars",
    "plot_filter_grid",
    "plot_filter_metric",
    "plot_radial_profile",
    "plot_reliability",
    "plot_spectrum",
    "save_figure",
    "spectrum_figure",
    "summary_figure",
]


def _np2d(a: torch.Tensor | np.ndarray) -> np.ndarray:
    arr = a.detach().to("cpu", torch.float64).numpy() if isinstance(a, torch.Tensor) else a
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"spectrum: expected a 2-D (H, W) map, got shape {arr.shape}")
    return arr


def plot_spectrum(
    ax: Axes,
    spectrum: torch.Tensor | np.ndarray,
    *,
    title: str | None = None,
    cmap: str = "magma",
    vmin: float | None = None,
    vmax: float | None = None,
    colorbar: bool = True,
    centered: bool = True,
) -> Any:
    """Draw one centred 2-D spectrum with frequency axes in cycles/pixel.

    Args:
        ax: the axes to draw into.
        spectrum: ``(H, W)`` map, e.g. ``magnitude_spectrum(x)[b, c]``.
        title: axes title.
        cmap: colour map (use a diverging one such as ``"RdBu_r"`` for differences).
        vmin: lower end of the colour scale (share it across panels to compare them).
        vmax: upper end of the colour scale.
        colorbar: add a colour bar next to the axes.
        centered: the map is ``fftshift``-ed (DC in the middle).

    Returns:
        The :class:`matplotlib.image.AxesImage`.
    """
    arr = _np2d(spectrum)
    h, w = arr.shape
    if centered:
        fy0, fy1 = -(h // 2) / h, (h - 1 - h // 2) / h
        fx0, fx1 = -(w // 2) / w, (w - 1 - w // 2) / w
    else:
        fy0, fy1, fx0, fx1 = 0.0, (h - 1) / h, 0.0, (w - 1) / w
    dy, dx = 0.5 / h, 0.5 / w
    im = ax.imshow(
        arr,
        cmap=cmap,
        vmin=vmin,
        vmax=vmax,
        origin="upper",
        interpolation="nearest",
        extent=(fx0 - dx, fx1 + dx, fy1 + dy, fy0 - dy),
    )
    ax.set_xlabel("$f_x$ (cycles/px)")
    ax.set_ylabel("$f_y$ (cycles/px)")
    if title:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return im


def plot_radial_profile(
    ax: Axes,
    radii: torch.Tensor | np.ndarray,
    profiles: Mapping[str, torch.Tensor | np.ndarray],
    *,
    title: str | None = None,
    slopes: Mapping[str, float] | None = None,
    styles: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Any]:
    """Draw radial power profiles on log-log axes (DC and zero power left out).

    Args:
        ax: the axes to draw into.
        radii: ``(n_bins,)`` ring radii in cycles/pixel.
        profiles: label -> ``(n_bins,)`` profile.
        title: axes title.
        slopes: optional label -> fitted power-law slope, shown in the legend.
        styles: optional label -> keyword arguments for ``ax.plot`` (colour, line style).

    Returns:
        The drawn :class:`matplotlib.lines.Line2D` objects, one per profile.
    """
    r = np.asarray(radii.cpu() if isinstance(radii, torch.Tensor) else radii, dtype=np.float64)
    lines = []
    any_points = False
    for label, prof in profiles.items():
        p = np.asarray(prof.cpu() if isinstance(prof, torch.Tensor) else prof, dtype=np.float64)
        keep = (r > 0) & np.isfinite(p) & (p > 0)  # log axes: DC and zero power left out
        any_points = any_points or bool(keep.any())
        text = label
        if slopes and label in slopes and np.isfinite(slopes[label]):
            text = f"{label} (slope {slopes[label]:.2f})"
        (line,) = ax.plot(r[keep], p[keep], label=text, **dict((styles or {}).get(label, {})))
        lines.append(line)
    if any_points:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels crowd a short decade
        pos = r[r > 0]
        if pos.size:  # radii of a small image span a decade or so: label octaves 1/2^k
            ks = range(int(np.floor(-np.log2(pos.max()))), int(np.ceil(-np.log2(pos.min()))) + 1)
            ticks = sorted(2.0**-k for k in ks if pos.min() * 0.99 <= 2.0**-k <= pos.max() * 1.01)
            if 2 <= len(ticks) <= 6:  # wider ranges keep the decade labels
                ax.xaxis.set_major_locator(FixedLocator(ticks))
                ax.set_xticklabels([f"1/{round(1 / t)}" for t in ticks])
    ax.set_xlabel("radius (cycles/px)")
    ax.set_ylabel("mean power")
    ax.grid(True, which="both", alpha=0.3)
    if lines:
        ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return lines


def plot_band_energy(
    ax: Axes,
    fractions: Mapping[str, Sequence[float]],
    *,
    bands: Sequence[str] = ("low", "mid", "high"),
    title: str | None = None,
    styles: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Any]:
    """Grouped bars of low/mid/high energy fractions, one group per band.

    Args:
        ax: the axes to draw into.
        fractions: label (e.g. "clean", "perturbation") -> one fraction per band.
        bands: band names for the x axis.
        title: axes title.
        styles: optional label -> keyword arguments for ``ax.bar`` (colour, hatch).

    Returns:
        One :class:`matplotlib.container.BarContainer` per label.
    """
    n = max(len(fractions), 1)
    width = 0.8 / n
    x = np.arange(len(bands))
    bars = []
    for i, (label, vals) in enumerate(fractions.items()):
        v = np.array([np.nan if f is None else f for f in vals], dtype=np.float64)
        kw = dict((styles or {}).get(label, {}))
        bars.append(ax.bar(x + (i - (n - 1) / 2) * width, v, width, label=label, **kw))
    ax.set_xticks(x, list(bands))
    ax.set_ylim(0, 1)
    ax.set_ylabel("fraction of non-DC energy")
    if fractions:
        ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return bars


def spectrum_figure(
    spectra: Sequence[torch.Tensor],
    *,
    row_labels: Sequence[str],
    channel_names: Sequence[str] = ("R", "G", "B"),
    radial: Sequence[tuple[torch.Tensor, Mapping[str, torch.Tensor], Mapping[str, float]]]
    | None = None,
    title: str | None = None,
) -> Figure:
    """Rows of per-channel spectra (BlurNet style), optionally with a radial-profile column.

    Args:
        spectra: one ``(C, H, W)`` normalised spectrum per row (C may differ per row).
        row_labels: a label per row.
        channel_names: column titles for channels 0, 1, 2, ...
        radial: per row, ``(radii, {label: profile}, {label: slope})`` for the last column.
        title: figure title.

    Returns:
        The figure (save it with :func:`save_figure`).
    """
    if len(spectra) != len(row_labels):
        raise ValueError(
            f"row_labels: expected {len(spectra)} labels, one per row, got {len(row_labels)}"
        )
    n_ch = max(int(s.shape[0]) for s in spectra)
    n_col = n_ch + (1 if radial is not None else 0)
    fig = Figure(figsize=(3.3 * n_col, 2.9 * len(spectra)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(spectra), n_col, squeeze=False))
    for row, (spec, label) in enumerate(zip(spectra, row_labels, strict=True)):
        for c in range(n_ch):
            ax = axes[row, c]
            if c >= spec.shape[0]:
                ax.set_axis_off()
                continue
            name = channel_names[c] if spec.shape[0] > 1 and c < len(channel_names) else "grey"
            plot_spectrum(ax, spec[c], title=f"{label}: {name}", vmin=0.0, vmax=1.0)
        if radial is not None:
            radii, profs, slopes = radial[row]
            plot_radial_profile(axes[row, -1], radii, profs, slopes=slopes, title="radial power")
    if title:
        fig.suptitle(title)
    return fig


def summary_figure(
    summaries: Sequence[Any],
    *,
    row_labels: Sequence[str],
    index: int = 0,
    title: str | None = None,
) -> Figure:
    """One row per :class:`spectral.SpectrumSummary`: its channel spectra and radial power.

    Args:
        summaries: summaries from :func:`spectral.spectrum_summary`.
        row_labels: a label per row.
        index: which image of each summary's batch to draw.
        title: figure title.

    Returns:
        The figure.
    """
    from spectral.spectra import channel_names

    spectra, radial = [], []
    for s in summaries:
        names = channel_names(int(s.magnitude.shape[1]))
        spectra.append(s.magnitude[index].detach().cpu())
        profiles = {n: s.radial_power[index, c].detach().cpu() for c, n in enumerate(names)}
        slopes = dict(zip(names, s.slope[index].tolist(), strict=True))
        radial.append((s.radii.detach().cpu(), profiles, slopes))
    return spectrum_figure(spectra, row_labels=row_labels, radial=radial, title=title)


def save_figure(fig: Figure, path: str | Path, *, dpi: int = 110) -> Path:
    """Save ``fig`` as PNG (Agg, no display needed) and return the path."""
    p = Path(path)
    fig.savefig(p, dpi=dpi, format="png")
    return p


def plot_defense_bars(
    ax: Axes,
    rows: Sequence[Mapping[str, Any]],
    *,
    metrics: Sequence[str] = ("accuracy", "attack_success_rate"),
    label_key: str = "defense",
    title: str | None = None,
) -> list[Any]:
    """Grouped horizontal bars: one group per table row (defense), one bar per metric.

    Args:
        ax: the axes to draw into.
        rows: table rows (e.g. from :func:`spectral.defense.blackbox_blur_table`).
        metrics: row keys to draw (fractions in [0, 1], shown in percent).
        label_key: row key used as the group label.
        title: axes title.

    Returns:
        One :class:`matplotlib.container.BarContainer` per metric.
    """
    n = max(len(metrics), 1)
    height = 0.8 / n
    y = np.arange(len(rows))
    bars = []
    for i, key in enumerate(metrics):
        vals = [100.0 * float(r[key]) for r in rows]
        bars.append(
            ax.barh(y + (i - (n - 1) / 2) * height, vals, height, label=key.replace("_", " "))
        )
    ax.set_yticks(y, [str(r[label_key]) for r in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("%")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(fontsize="small", loc="lower right")
    if title:
        ax.set_title(title)
    return bars


def blur_figure(
    blackbox: Sequence[Mapping[str, Any]], adaptive: Sequence[Mapping[str, Any]]
) -> Figure:
    """The blur tables side by side (figure 6): black-box, and adaptive through the blur.

    Args:
        blackbox: rows from :func:`spectral.defense.blackbox_blur_table` (first result).
        adaptive: its adaptive rows (second result).

    Returns:
        The figure.
    """
    fig, axes = new_figure(1, 2, size=(5.5, 0.5 * len(blackbox) + 1.8))
    plot_defense_bars(axes[0, 0], blackbox, title="black-box (transferred)")
    plot_defense_bars(
        axes[0, 1],
        adaptive,
        metrics=("accuracy", "adversarial_accuracy"),
        title="adaptive (through the blur)",
    )
    return fig


def new_figure(
    nrows: int = 1, ncols: int = 1, *, size: tuple[float, float] = (4.5, 3.5)
) -> tuple[Figure, np.ndarray]:
    """A constrained-layout :class:`Figure` and its ``(nrows, ncols)`` array of axes.

    ``size`` is the size of one panel in inches.
    """
    fig = Figure(figsize=(size[0] * ncols, size[1] * nrows), layout="constrained")
    return fig, np.atleast_2d(fig.subplots(nrows, ncols, squeeze=False))


def comparison_figure(
    comparison: Any,
    *,
    index: int = 0,
    channel_names: Sequence[str] = ("R", "G", "B"),
    labels: tuple[str, str] = ("natural", "perturbed"),
    title: str | None = None,
) -> Figure:
    """Natural / perturbed / difference spectra per channel for one image (BlurNet figure 1).

    Rows: the clean and perturbed normalised log-magnitude spectra on one shared [0, 1]
    scale, then their difference ``log1p|F(x_adv)| - log1p|F(x)|`` on a symmetric
    diverging scale shared across channels (red: the perturbation added amplitude).

    Args:
        comparison: a :class:`spectral.SpectrumComparison`.
        index: which image of the batch to draw.
        channel_names: column titles.
        labels: names of the clean and the perturbed rows.
        title: figure title.

    Returns:
        The figure.
    """
    clean = comparison.clean[index].detach().cpu()
    adv = comparison.adversarial[index].detach().cpu()
    diff = comparison.difference[index].detach().cpu()
    n_ch = clean.shape[0]
    names = list(channel_names) if n_ch == len(channel_names) else [f"ch{c}" for c in range(n_ch)]
    lim = float(diff.abs().max()) or 1.0
    fig, axes = new_figure(3, n_ch, size=(3.3, 2.9))
    for c in range(n_ch):
        plot_spectrum(axes[0, c], clean[c], title=f"{labels[0]}: {names[c]}", vmin=0, vmax=1)
        plot_spectrum(axes[1, c], adv[c], title=f"{labels[1]}: {names[c]}", vmin=0, vmax=1)
        plot_spectrum(
            axes[2, c],
            diff[c],
            title=f"difference: {names[c]}",
            cmap="RdBu_r",
            vmin=-lim,
            vmax=lim,
        )
    if title:
        fig.suptitle(title)
    return fig


def feature_spectra_figure(
    spectra: Any,
    *,
    channels: Sequence[int] | None = None,
    max_rows: int = 6,
    title: str | None = None,
) -> Figure:
    """Feature-map spectra: one row per feature map, columns clean / adversarial / difference.

    Panels show ``log10`` of the mean power (DC in the centre). Clean and adversarial share
    one colour scale per row, so their difference is visible by eye; the difference
    column is the power spectrum of ``maps(x_adv) - maps(x)`` on its own scale.

    Args:
        spectra: a :class:`spectral.features.FeatureSpectra`.
        channels: which feature maps to draw (default: ``max_rows`` evenly spaced ones).
        max_rows: rows when ``channels`` is not given.
        title: figure title.

    Returns:
        The figure.
    """
    n_ch = int(spectra.clean.shape[0])
    if channels is None:
        k = min(max_rows, n_ch)
        channels = sorted({round(i * (n_ch - 1) / max(k - 1, 1)) for i in range(k)})
    tiny = 1e-12

    def log(t: torch.Tensor) -> np.ndarray:
        return np.asarray(torch.log10(t.detach().cpu().double().clamp_min(tiny)).numpy())

    fig, axes = new_figure(len(channels), 3, size=(3.3, 2.8))
    for row, c in enumerate(channels):
        lc, la, ld = log(spectra.clean[c]), log(spectra.adversarial[c]), log(spectra.difference[c])
        lo, hi = float(min(lc.min(), la.min())), float(max(lc.max(), la.max()))
        plot_spectrum(axes[row, 0], lc, title=f"map {c}: clean", vmin=lo, vmax=hi)
        plot_spectrum(axes[row, 1], la, title=f"map {c}: adversarial", vmin=lo, vmax=hi)
        plot_spectrum(axes[row, 2], ld, title=f"map {c}: difference", cmap="viridis")
    fig.suptitle(title or f"{spectra.layer}: log10 mean power of feature maps")
    return fig


def plot_filter_metric(
    ax: Axes,
    models: Mapping[str, Sequence[Mapping[str, Any]]],
    metric: str,
    *,
    title: str | None = None,
) -> list[Any]:
    """One line per model: ``metric`` of each 3x3 conv layer, in depth order.

    Args:
        ax: the axes to draw into.
        models: label -> rows of :func:`spectral.filter_metrics`.
        metric: a row key such as ``"variance_entropy_normalized"`` or ``"orthogonality"``.
        title: axes title (default: the metric).

    Returns:
        The drawn lines.
    """
    lines = []
    for label, rows in models.items():
        y = [float(r[metric]) for r in rows]
        (line,) = ax.plot(range(1, len(y) + 1), y, marker="o", label=label)
        lines.append(line)
    ax.set_xlabel("3x3 conv layer (depth)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if metric.startswith("sparsity"):  # a fraction, mostly 0: a [0, 1] axis keeps it honest
        ax.set_ylim(-0.03, 1.03)
    ax.set_title(title or metric.replace("_", " "))
    ax.grid(True, alpha=0.3)
    if lines:
        ax.legend(fontsize="small")
    return lines


def plot_filter_grid(
    ax: Axes, weight: torch.Tensor, *, max_filters: int = 64, title: str | None = None
) -> Any:
    """First-layer filters as a mosaic: one ``k x k`` tile per output channel.

    RGB (3 input channels) tiles are shown in colour, each tile min-max scaled on its
    own; other inputs show the mean over input channels in grey.

    Args:
        ax: the axes to draw into.
        weight: ``(c_out, c_in, k, k)`` conv weight.
        max_filters: at most this many tiles.
        title: axes title.

    Returns:
        The :class:`matplotlib.image.AxesImage`.
    """
    w = weight.detach().cpu().double()[:max_filters]
    n, c_in, k, _ = w.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    colour = c_in == 3
    tiles = w if colour else w.mean(1, keepdim=True)
    lo = tiles.amin(dim=(1, 2, 3), keepdim=True)
    span = (tiles.amax(dim=(1, 2, 3), keepdim=True) - lo).clamp_min(1e-12)
    tiles = (tiles - lo) / span
    # mid-grey gaps: white would merge with each tile's brightest weight
    mosaic = np.full((rows * (k + 1) - 1, cols * (k + 1) - 1, 3 if colour else 1), 0.5)
    for i in range(n):
        r, c = divmod(i, cols)
        mosaic[r * (k + 1) : r * (k + 1) + k, c * (k + 1) : c * (k + 1) + k] = (
            tiles[i].permute(1, 2, 0).numpy()
        )
    im = ax.imshow(
        mosaic if colour else mosaic[..., 0],
        cmap=None if colour else "gray",
        interpolation="nearest",
    )
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return im


def filter_figure(
    models: Mapping[str, Sequence[Mapping[str, Any]]],
    first_weights: Mapping[str, torch.Tensor],
) -> Figure:
    """Per-layer metric lines (4 panels) and the first-layer filter mosaic of each model."""
    metrics = (
        "sparsity",
        "variance_entropy_normalized",
        "variance_entropy_normalized_nonsparse",
        "orthogonality",
    )
    n = len(first_weights)
    fig, axes = new_figure(2, max(4, n), size=(3.4, 3.0))
    for i, m in enumerate(metrics):
        plot_filter_metric(axes[0, i], models, m)
    for j in range(max(4, n)):
        axes[1, j].set_axis_off()
    for j, (label, w) in enumerate(first_weights.items()):
        plot_filter_grid(axes[1, j], w, title=f"{label}: first-layer filters")
    return fig


def plot_reliability(
    ax: Axes, bins: Mapping[str, Sequence[Mapping[str, float]]], *, title: str | None = None
) -> list[Any]:
    """Reliability diagram: accuracy against mean confidence per bin, with the diagonal.

    Args:
        ax: the axes to draw into.
        bins: label -> :func:`spectral.robustness.calibration_bins` rows.
        title: axes title.

    Returns:
        One line per label (empty bins left out).
    """
    ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1)
    lines = []
    for label, rows in bins.items():
        pts = [(r["confidence"], r["accuracy"]) for r in rows if r["count"]]
        xs, ys = zip(*pts, strict=True) if pts else ((), ())
        (line,) = ax.plot(xs, ys, marker="o", label=label)
        lines.append(line)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return lines


def plot_confidence_histogram(
    ax: Axes,
    confidences: Mapping[str, torch.Tensor],
    *,
    n_bins: int = 15,
    title: str | None = None,
) -> list[Any]:
    """Histograms of the top-class confidence, one step line per label."""
    edges = np.linspace(0, 1, n_bins + 1).tolist()
    out = []
    for label, c in confidences.items():
        _, _, patches = ax.hist(
            np.asarray(c.detach().cpu(), dtype=np.float64),
            bins=edges,
            histtype="step",
            linewidth=1.5,
            label=label,
        )
        out.append(patches)
    ax.set_xlabel("confidence")
    ax.set_ylabel("images")
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return out


def heatmap_figure(
    maps: Mapping[str, torch.Tensor],
    *,
    eps: float | None = None,
    clean_error: Mapping[str, float] | None = None,
) -> Figure:
    """Fourier heat maps side by side on one shared colour scale (Yin et al. 2019).

    With two maps a third panel shows their difference (second minus first) on a
    symmetric diverging scale: red where the second model errs more.

    Args:
        maps: label -> centred ``(H, W)`` error map from :func:`spectral.fourier_heatmap`.
        eps: the perturbation norm, for the title.
        clean_error: label -> error on the unperturbed images, shown in each panel title.

    Returns:
        The figure.
    """
    items = list(maps.items())
    vmax = max((float(m.max()) for _, m in items), default=1.0) or 1.0
    panels = len(items) + (1 if len(items) == 2 else 0)
    fig, axes = new_figure(1, max(1, panels), size=(3.9, 3.4))
    for j, (label, heat) in enumerate(items):
        extra = ""
        if clean_error and label in clean_error:
            extra = f"\n(clean error {clean_error[label]:.1%})"
        im = plot_spectrum(
            axes[0, j],
            heat,
            title=f"{label}{extra}",
            cmap="viridis",
            vmin=0.0,
            vmax=vmax,
            colorbar=False,
        )
        fig.colorbar(im, ax=axes[0, j], fraction=0.046, pad=0.04, label="error rate")
    if len(items) == 2:
        (a_label, a), (b_label, b) = items
        diff = b.detach().double().cpu() - a.detach().double().cpu()
        lim = float(diff.abs().max()) or 1.0
        im = plot_spectrum(
            axes[0, 2],
            diff,
            title=f"{b_label}\nminus {a_label}",
            cmap="RdBu_r",
            vmin=-lim,
            vmax=lim,
            colorbar=False,
        )
        fig.colorbar(im, ax=axes[0, 2], fraction=0.046, pad=0.04, label="error rate difference")
    fig.suptitle(
        "error rate under Fourier basis perturbations" + (f", eps = {eps:g}" if eps else "")
    )
    return fig


def plot_attribution(ax: Axes, attribution: torch.Tensor, *, title: str | None = None) -> Any:
    """One attribution map ``(C, H, W)``, zero as mid-grey, scaled to its 99th percentile.

    Three channels are drawn as colour (``0.5 + a / (2 q99)``, clipped), so an
    attribution that looks like the image looks like a colour image; other channel
    counts show the channel sum on a diverging scale.

    Returns:
        The :class:`matplotlib.image.AxesImage`.
    """
    a = attribution.detach().to("cpu", torch.float64)
    if a.ndim != 3:
        raise ValueError(f"attribution: expected (C, H, W), got shape {tuple(a.shape)}")
    if a.shape[0] != 3:
        a = a.sum(0, keepdim=True)
    q = float(torch.quantile(a.abs().flatten(), 0.99)) or float(a.abs().max()) or 1.0
    if a.shape[0] == 3:
        im = ax.imshow(
            (0.5 + a / (2 * q)).clamp(0, 1).permute(1, 2, 0).numpy(), interpolation="nearest"
        )
    else:
        im = ax.imshow(a[0].numpy(), cmap="RdBu_r", vmin=-q, vmax=q, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize="small")
    return im


def gradient_figure(
    images: torch.Tensor,
    results: Mapping[str, Any],
    *,
    n_images: int = 4,
) -> Figure:
    """Images next to each model's input and integrated gradients, then their spectra.

    The top rows show, per image: the image, then for each model its input gradient and
    integrated gradient (:func:`plot_attribution`; each panel scaled on its own, so
    compare patterns, not magnitudes). The bottom row has the mean normalised radial
    power of each kind of map and the band energies: one colour per model (solid:
    gradient, hatched/dashed: integrated gradients), grey for the images themselves.

    Args:
        images: ``(B, C, H, W)`` images in ``[0, 1]``.
        results: label -> :class:`spectral.gradients.GradientSpectra` on those images.
        n_images: image rows.

    Returns:
        The figure.
    """
    n = min(n_images, int(images.shape[0]))
    cols = 1 + 2 * len(results)
    fig = Figure(figsize=(max(2.2 * cols, 11.0), 2.2 * n + 3.8), layout="constrained")
    top, bottom = np.asarray(fig.subfigures(2, 1, height_ratios=[2.2 * n, 3.8])).ravel()
    axes = np.atleast_2d(top.subplots(n, cols, squeeze=False))
    low = bottom.subplots(1, 3, squeeze=False)[0]
    for i in range(n):
        img = images[i].detach().to("cpu", torch.float64).clamp(0, 1)
        axes[i, 0].imshow(
            img.permute(1, 2, 0).numpy() if img.shape[0] == 3 else img.mean(0).numpy(),
            cmap=None if img.shape[0] == 3 else "gray",
            vmin=0.0,
            vmax=1.0,
            interpolation="nearest",
        )
        axes[i, 0].set_axis_off()
        if i == 0:
            axes[i, 0].set_title("image", fontsize="small")
        for j, (label, res) in enumerate(results.items()):
            for k, (kind, maps) in enumerate((("gradient", res.gradients), ("IG", res.integrated))):
                plot_attribution(
                    axes[i, 1 + 2 * j + k], maps[i], title=f"{label}: {kind}" if i == 0 else None
                )
    top.suptitle("attributions, each panel scaled to its own 99th percentile", fontsize="small")
    first = next(iter(results.values()), None)
    if first is None:
        for ax in low:
            ax.set_axis_off()
        return fig
    colour = {label: f"C{j}" for j, label in enumerate(results)}
    for k, kind in enumerate(("gradient", "integrated")):
        profiles = {label: r.radial_power[kind] for label, r in results.items()}
        profiles["images"] = first.radial_power["image"]
        styles: dict[str, dict[str, Any]] = {
            label: {"color": colour[label], "linestyle": "-" if k == 0 else "--"}
            for label in results
        }
        styles["images"] = {"color": "0.5", "linestyle": ":"}
        plot_radial_profile(
            low[k], first.radii, profiles, title=f"{kind}: radial power", styles=styles
        )
        low[k].set_ylabel("mean power (each map's sums to 1)")
    fractions: dict[str, list[float]] = {}
    bar_styles: dict[str, dict[str, Any]] = {}
    for label, r in results.items():
        summary = r.summary()
        for kind, key, hatch in (("gradient", "gradient", None), ("IG", "integrated", "//")):
            name = f"{label}: {kind}"
            fractions[name] = [summary[key][b] for b in ("low", "mid", "high")]
            bar_styles[name] = {"color": colour[label]}
            if hatch:
                bar_styles[name] |= {"hatch": hatch, "edgecolor": "white"}
    fractions["images"] = [first.summary()["image"][b] for b in ("low", "mid", "high")]
    bar_styles["images"] = {"color": "0.6"}
    plot_band_energy(low[2], fractions, title="band energy", styles=bar_styles)
    low[2].legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


def attack_figures(analysis: Any) -> dict[str, Figure]:
    """Figures 1, 4 and 5 of the report from a :class:`spectral.analysis.AttackAnalysis`.

    Returns:
        ``fig1_input_spectra`` (the main model's image 0: natural / perturbed /
        difference spectra), ``fig4_radial_profiles`` (radial power of the clean batch,
        the adversarial batch and the perturbation, with slopes) and
        ``fig5_band_energy`` (band energies, one panel per model).
    """
    main = analysis.main
    figs = {
        "fig1_input_spectra": comparison_figure(
            analysis.comparison[main],
            labels=("natural", "perturbed"),
            title=f"{main}, {analysis.attack} eps {analysis.eps:.4g}: input spectra of image 0",
        )
    }
    fig, axes = new_figure(1, 1, size=(5.5, 4.0))
    plot_radial_profile(
        axes[0, 0],
        analysis.radii,
        analysis.radial_power,
        slopes=analysis.radial_slope,
        title=f"Radial power, {main} (mean over images and channels)",
    )
    figs["fig4_radial_profiles"] = fig
    fig, axes = new_figure(1, len(analysis.metrics), size=(4.6, 3.4))
    for i, (name, m) in enumerate(analysis.metrics.items()):
        be = m["band_energy"]
        plot_band_energy(
            axes[0, i], {k: be[k] for k in ("clean", "adversarial", "perturbation")}, title=name
        )
    figs["fig5_band_energy"] = fig
    return figs
