"""Spectrum figures: maps, radial profiles, band energy, clean vs adversarial, feature maps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullFormatter

from spectral.fourier.compare import channel_names
from spectral.plot.base import as_2d_array, set_suptitle, set_title

__all__ = [
    "MAGNITUDE_LABEL",
    "plot_band_energy",
    "plot_radial_profile",
    "plot_spectrum",
    "spectrum_figure",
    "summary_figure",
]

#: Colour-bar label of a :func:`spectral.magnitude_spectrum` map.
MAGNITUDE_LABEL = "log(1 + |F|), normalised"


def plot_spectrum(
    ax: Axes,
    spectrum: torch.Tensor | np.ndarray,
    *,
    title: str | None = None,
    cmap: str = "magma",
    vmin: float | None = None,
    vmax: float | None = None,
    colorbar: bool = True,
    colorbar_label: str = MAGNITUDE_LABEL,
    center: bool = True,
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
        colorbar_label: what the colour bar shows (default: the normalised log
            magnitude that :func:`spectral.magnitude_spectrum` returns).
        center: the map is ``fftshift``-ed (DC in the middle).

    Returns:
        The :class:`matplotlib.image.AxesImage`.

    Raises:
        ValueError: ``spectrum`` is not 2-D (from :func:`as_2d_array`; a plain
            ``ValueError``, not a spectral error).

    Shape:
        - spectrum: :math:`(H, W)`

    Examples:
        >>> from spectral.plot import new_figure
        >>> fig, axes = new_figure()
        >>> im = plot_spectrum(axes[0, 0], torch.rand(8, 8), title="noise")
        >>> im.get_extent()  # f_x from -1/2 to 3/8 cycles/px, half a bin beyond each end
        [-0.5625, 0.4375, 0.4375, -0.5625]
        >>> len(fig.axes), axes[0, 0].get_title()  # the panel and its colour bar
        (2, 'noise')
        >>> im.colorbar.ax.get_ylabel()
        'log(1 + |F|), normalised'
    """
    arr = as_2d_array(spectrum)
    h, w = arr.shape
    if center:
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
        set_title(ax, title)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label=colorbar_label)
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

    Shape:
        - radii: :math:`(n_{bins},)`
        - ``profiles[label]``: :math:`(n_{bins},)`

    Examples:
        >>> from spectral.plot import new_figure
        >>> fig, axes = new_figure()
        >>> r = torch.tensor([0.0, 0.25, 0.5])
        >>> profiles = {"a": torch.tensor([9.0, 4.0, 1.0]), "b": torch.tensor([1.0, 0.0, 2.0])}
        >>> lines = plot_radial_profile(axes[0, 0], r, profiles, slopes={"a": -2.0})
        >>> [line.get_xdata().tolist() for line in lines]  # DC and zero power left out
        [[0.25, 0.5], [0.5]]
        >>> lines[0].get_label(), axes[0, 0].get_xscale()
        ('a (slope -2.00)', 'log')
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
        set_title(ax, title)
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

    Examples:
        >>> from spectral.plot import new_figure
        >>> fig, axes = new_figure()
        >>> fractions = {"clean": [0.7, 0.2, 0.1], "perturbation": [0.1, 0.3, None]}
        >>> bars = plot_band_energy(axes[0, 0], fractions, title="bands")
        >>> len(bars), [float(b.get_height()) for b in bars[0]]
        (2, [0.7, 0.2, 0.1])
        >>> [t.get_text() for t in axes[0, 0].get_xticklabels()], axes[0, 0].get_title()
        (['low', 'mid', 'high'], 'bands')
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
        set_title(ax, title)
    return bars


def spectrum_figure(
    spectra: Sequence[torch.Tensor],
    *,
    row_labels: Sequence[str],
    channel_names: Sequence[str] = ("R", "G", "B"),
    radial: Sequence[tuple[torch.Tensor, Mapping[str, torch.Tensor], Mapping[str, float]]]
    | None = None,
    title: str | None = None,
    colorbar_label: str = MAGNITUDE_LABEL,
) -> Figure:
    """Rows of per-channel spectra (BlurNet style), optionally with a radial-profile column.

    Args:
        spectra: one ``(C, H, W)`` normalised spectrum per row (C may differ per row).
        row_labels: a label per row.
        channel_names: column titles for channels 0, 1, 2, ...
        radial: per row, ``(radii, {label: profile}, {label: slope})`` for the last column.
        title: figure title.
        colorbar_label: what the colour bars show.

    Returns:
        The figure (save it with :func:`save_figure`).

    Raises:
        ValueError: ``row_labels`` does not have one label per spectrum (a plain
            ``ValueError``, not a spectral error).

    Shape:
        - ``spectra[row]``: :math:`(C, H, W)`, values in ``[0, 1]``
        - ``radial[row]``: radii :math:`(n_{bins},)` and profiles :math:`(n_{bins},)`

    Examples:
        >>> fig = spectrum_figure([torch.rand(3, 8, 8), torch.rand(1, 8, 8)], row_labels=["a", "b"])
        >>> [ax.get_title() for ax in fig.axes[:4]]  # the grey row leaves 2 panels empty
        ['a: R', 'a: G', 'a: B', 'b: grey']
        >>> spectrum_figure([torch.rand(3, 8, 8)], row_labels=[])
        Traceback (most recent call last):
            ...
        ValueError: row_labels: expected 1 labels, one per row, got 0
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
            plot_spectrum(
                ax,
                spec[c],
                title=f"{label}: {name}",
                vmin=0.0,
                vmax=1.0,
                colorbar_label=colorbar_label,
            )
        if radial is not None:
            radii, profs, slopes = radial[row]
            plot_radial_profile(axes[row, -1], radii, profs, slopes=slopes, title="radial power")
    if title:
        set_suptitle(fig, title)
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

    Examples:
        >>> from spectral import spectrum_summary
        >>> s = spectrum_summary(torch.rand(2, 3, 8, 8))
        >>> fig = summary_figure([s], row_labels=["noise"], index=1, title="summary")
        >>> fig.get_suptitle(), len(fig.axes)  # 3 maps with colour bars, 1 radial profile
        ('summary', 7)
    """
    spectra, radial = [], []
    for s in summaries:
        names = channel_names(int(s.magnitude.shape[1]))
        spectra.append(s.magnitude[index].detach().cpu())
        profiles = {n: s.radial_power[index, c].detach().cpu() for c, n in enumerate(names)}
        slopes = dict(zip(names, s.slope[index].tolist(), strict=True))
        radial.append((s.radii.detach().cpu(), profiles, slopes))
    return spectrum_figure(spectra, row_labels=row_labels, radial=radial, title=title)
