"""Robust-vs-normal figures: filters, calibration, Fourier heat maps, input gradients."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from spectral.plot.base import new_figure, set_suptitle, set_title
from spectral.plot.spectra import plot_band_energy, plot_radial_profile, plot_spectrum

__all__ = [
    "gradient_figure",
    "heatmap_figure",
    "plot_attribution",
]


def heatmap_figure(
    maps: Mapping[str, torch.Tensor],
    *,
    eps: float | None = None,
    clean_error: Mapping[str, float] | None = None,
) -> Figure:
    """Fourier heat maps side by side on one shared colour scale (Yin et al. 2019).

    With two maps a third panel shows their difference (second minus first) on a
    symmetric diverging scale: red where the second model errs more.

    Maps of a frequency subset (NaN outside it, :func:`spectral.fourier_heatmap`): cells
    of a ``step`` lattice are drawn as ``step x step`` blocks around each evaluated
    frequency; cells outside a ``max_radius`` or an explicit list stay blank.

    Args:
        maps: label -> centred ``(H, W)`` error map from :func:`spectral.fourier_heatmap`.
        eps: the perturbation norm, for the title.
        clean_error: label -> error on the unperturbed images, shown in each panel title.

    Returns:
        The figure.

    Shape:
        - ``maps[label]``: :math:`(H, W)`, all maps alike when there are two

    Examples:
        >>> maps = {"normal": torch.rand(8, 8), "robust": torch.rand(8, 8)}
        >>> fig = heatmap_figure(maps, eps=4.0, clean_error={"normal": 0.1})
        >>> len(fig.axes)  # two maps and their difference, each with a colour bar
        6
        >>> fig.get_suptitle()
        'error rate under Fourier basis perturbations, eps = 4'
        >>> fig.axes[0].get_title().splitlines()
        ['normal', '(clean error 10.0%)']
    """
    items = [(label, _blocks(m.detach().double().cpu())) for label, m in maps.items()]
    vmax = max((float(m.nan_to_num(0.0).max()) for _, m in items), default=1.0) or 1.0
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
        lim = float(diff.abs().nan_to_num(0.0).max()) or 1.0
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
    set_suptitle(
        fig, "error rate under Fourier basis perturbations" + (f", eps = {eps:g}" if eps else "")
    )
    return fig


def _blocks(heat: torch.Tensor) -> torch.Tensor:
    """A subset map with each NaN cell given its nearest lattice frequency's value.

    The lattice step ``g`` is the gcd of the evaluated frequencies' coordinates; a cell
    ``k`` takes the value at ``g * round(k / g)`` when that frequency was evaluated.
    Maps without NaN, or whose evaluated cells are no coarser lattice, are returned as is.
    """
    known = ~heat.isnan()
    if bool(known.all()) or not bool(known.any()):
        return heat
    h, w = heat.shape
    rows, cols = known.nonzero(as_tuple=True)
    ks = torch.cat([(rows - h // 2).abs(), (cols - w // 2).abs()]).tolist()
    g = math.gcd(*ks) if any(ks) else 0
    if g <= 1:
        return heat
    ky = torch.arange(h) - h // 2
    kx = torch.arange(w) - w // 2
    ny = ((torch.round(ky / g) * g).long() + h // 2) % h  # frequencies are periodic
    nx = ((torch.round(kx / g) * g).long() + w // 2) % w
    filled = heat[ny[:, None], nx[None, :]]
    return torch.where(known, heat, filled)


def plot_attribution(ax: Axes, attribution: torch.Tensor, *, title: str | None = None) -> Any:
    """One attribution map ``(C, H, W)``, zero as mid-grey, scaled to its 99th percentile.

    Three channels are drawn as colour (``0.5 + a / (2 q99)``, clipped), so an
    attribution that looks like the image looks like a colour image; other channel
    counts show the channel sum on a diverging scale.

    Args:
        ax: the axes to draw into.
        attribution: one map, e.g. ``input_gradients(...)[i]``.
        title: axes title (drawn small).

    Returns:
        The :class:`matplotlib.image.AxesImage`.

    Raises:
        ValueError: ``attribution`` is not 3-D (a plain ``ValueError``, not a spectral
            error).

    Shape:
        - attribution: :math:`(C, H, W)`
        - Output: the drawn array, :math:`(H, W, 3)` for three channels, else
          :math:`(H, W)`

    Examples:
        >>> from spectral.plot import new_figure
        >>> fig, axes = new_figure()
        >>> plot_attribution(axes[0, 0], torch.randn(3, 8, 8)).get_array().shape
        (8, 8, 3)
        >>> im = plot_attribution(axes[0, 0], torch.randn(2, 8, 8), title="grey")
        >>> im.get_array().shape, im.get_cmap().name, axes[0, 0].get_title()
        ((8, 8), 'RdBu_r', 'grey')
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
        set_title(ax, title, fontsize="small")
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

    Shape:
        - images: :math:`(B, C, H, W)`, the images the ``results`` were computed on

    Examples:
        >>> from spectral.analysis import gradient_spectra
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 3))
        >>> x, y = torch.rand(2, 3, 4, 4), torch.tensor([0, 2])
        >>> fig = gradient_figure(x, {"net": gradient_spectra(net, x, y, steps=4)})
        >>> len(fig.subfigs), len(fig.subfigs[0].axes), len(fig.subfigs[1].axes)  # 2 x 3, 3
        (2, 6, 3)
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
            set_title(axes[i, 0], "image", fontsize="small")
        for j, (label, res) in enumerate(results.items()):
            for k, (kind, maps) in enumerate((("gradient", res.gradients), ("IG", res.integrated))):
                plot_attribution(
                    axes[i, 1 + 2 * j + k], maps[i], title=f"{label}: {kind}" if i == 0 else None
                )
    set_suptitle(
        top, "attributions, each panel scaled to its own 99th percentile", fontsize="small"
    )
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
