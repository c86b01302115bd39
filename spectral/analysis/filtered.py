"""Accuracy on low-pass and high-pass filtered images against the cutoff (Wang et al. 2020)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from spectral._internal.batching import batched_logits, resolve_batch_size
from spectral._internal.validate import check_images, check_labels, check_model, parse_enum
from spectral.distributed import shard_of, summed_fractions
from spectral.errors import SpectralTypeError, SpectralValueError
from spectral.fourier.filters import Boundary, FilterKind, highpass, lowpass
from spectral.metrics.uncertainty import proportion_interval

__all__ = ["DEFAULT_RADII", "FilteredAccuracy", "filtered_accuracy"]

#: Default cutoff radii in cycles/pixel: 1, 2, 4, 6, ..., 16 pixels of a 32x32 spectrum
#: (Wang et al. show 4, 8, 12 and 16), the same fractions of Nyquist at any size.
DEFAULT_RADII: tuple[float, ...] = tuple(r / 32 for r in (1, 2, 4, 6, 8, 10, 12, 14, 16))

PASSES = ("lowpass", "highpass")


@dataclass(frozen=True)
class FilteredAccuracy:
    """Accuracy of several models on filtered copies of the same images.

    Attributes:
        radii: cutoff radii in cycles/pixel.
        kinds: filter kinds (``"ideal"``, ``"butterworth"``, ``"gaussian"``).
        boundary: ``"strict"`` or ``"inclusive"`` (ideal masks; see
            :func:`spectral.lowpass`).
        n_images: images per accuracy.
        image_size: ``(H, W)``.
        clean_accuracy: model -> accuracy on the unfiltered images.
        accuracy: model -> pass (``"lowpass"``, ``"highpass"``) -> kind -> accuracy per
            radius.
    """

    radii: tuple[float, ...]
    kinds: tuple[str, ...]
    boundary: str
    n_images: int
    image_size: tuple[int, int]
    clean_accuracy: dict[str, float]
    accuracy: dict[str, dict[str, dict[str, list[float]]]]

    def radii_pixels(self) -> list[float]:
        """The radii in pixels of the centred spectrum of the shorter side (``r * min(H, W)``).

        Examples:
            >>> a = FilteredAccuracy((0.125, 0.5), ("ideal",), "strict", 1, (32, 32), {}, {})
            >>> a.radii_pixels()
            [4.0, 16.0]
        """
        return [r * min(self.image_size) for r in self.radii]

    def rows(self) -> list[list[Any]]:
        """Table rows ``[model, pass, kind, accuracy at each radius...]``."""
        return [
            [name, p, k, *accs]
            for name, per_pass in self.accuracy.items()
            for p, per_kind in per_pass.items()
            for k, accs in per_kind.items()
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the radii (cycles/pixel and pixels), settings, and per model the curves.

        Every accuracy is a count out of ``n_images``; each model's clean accuracy comes
        with its 95 % Wilson interval.
        """
        return {
            "radii": list(self.radii),
            "radii_pixels": self.radii_pixels(),
            "kinds": list(self.kinds),
            "boundary": self.boundary,
            "n_images": self.n_images,
            "image_size": list(self.image_size),
            "unclipped": "filtered images are fed as they are (not clipped to [0, 1])",
            "models": {
                name: {
                    "clean_accuracy": self.clean_accuracy[name],
                    "clean_interval": proportion_interval(
                        self.clean_accuracy[name], self.n_images
                    ).to_dict(),
                    **self.accuracy[name],
                }
                for name in self.accuracy
            },
        }


def _check_radii(radii: Any) -> tuple[float, ...]:
    try:
        vals = tuple(float(r) for r in radii)
    except (TypeError, ValueError):
        raise SpectralValueError(
            f"radii: expected numbers in cycles/pixel, got {radii!r}"
        ) from None
    if not vals or not all(0.0 < r < float("inf") for r in vals):
        raise SpectralValueError(f"radii: expected finite radii > 0 (cycles/pixel), got {radii!r}")
    return vals


def filtered_accuracy(
    models: Mapping[str, nn.Module],
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    radii: Sequence[float] = DEFAULT_RADII,
    kinds: Sequence[str | FilterKind] = ("ideal", "gaussian"),
    boundary: str | Boundary = "strict",
    batch_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FilteredAccuracy:
    """Accuracy on low-pass and high-pass filtered images, per cutoff radius and filter.

    For each radius ``R`` (cycles/pixel) and kind, every image becomes ``lowpass(x, R)``
    (its low-frequency component) and ``highpass(x, R) = x - lowpass(x, R)`` (its
    high-frequency component; no DC), as in Wang et al. (2020), who find that standard
    CIFAR-10 models still classify high-pass images that look blank to humans, and
    adversarially trained ones do not. The ideal masks use ``boundary`` (``"strict"``:
    keep ``r < R``, Wang et al.'s mask). Filtered images are fed unclipped: a high-pass
    image is centred on 0, a low-pass one may ring slightly outside ``[0, 1]``.

    Args:
        models: name -> classifier on images in ``[0, 1]`` returning logits; each is
            evaluated in eval mode and left as found.
        images: test images in ``[0, 1]``.
        labels: their labels.
        radii: cutoff radii in cycles/pixel (> 0).
        kinds: filter kinds of :func:`spectral.lowpass`.
        boundary: ring convention of the ideal masks.
        batch_size: images per forward pass (None: sized from memory).
        progress: called with ``(done, total)`` filtered evaluations.

    Returns:
        A :class:`FilteredAccuracy`.

    Raises:
        SpectralValueError: no models, bad images, labels, radii, kinds or boundary.
        SpectralTypeError: a model that is not an ``nn.Module``, a progress that is not
            callable.

    Shape:
        - images: :math:`(N, C, H, W)`; labels: :math:`(N,)`

    Examples:
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 3))
        >>> x, y = torch.rand(4, 3, 4, 4), torch.tensor([0, 1, 2, 0])
        >>> a = filtered_accuracy({"net": net}, x, y, radii=(0.25, 0.5), kinds=("ideal",))
        >>> a.radii_pixels(), sorted(a.accuracy["net"])
        ([1.0, 2.0], ['highpass', 'lowpass'])
        >>> len(a.accuracy["net"]["lowpass"]["ideal"])
        2
    """
    if not models:
        raise SpectralValueError("models: expected at least one model, got none")
    check_images(images, "images", unit_range=True)
    check_labels(labels, images)
    rads = _check_radii(radii)
    kind_list = tuple(parse_enum(k, FilterKind, "kinds").value for k in kinds)
    if not kind_list:
        raise SpectralValueError("kinds: expected at least one filter kind, got none")
    edge = parse_enum(boundary, Boundary, "boundary")
    if progress is not None and not callable(progress):
        raise SpectralTypeError(f"progress: expected a callable, got {type(progress).__name__}")
    n = int(images.shape[0])
    total = len(models) * len(kind_list) * len(PASSES) * len(rads)
    done = 0
    clean: dict[str, float] = {}
    acc: dict[str, dict[str, dict[str, list[float]]]] = {}
    filters = {"lowpass": lowpass, "highpass": highpass}
    # under torch.distributed each rank scores its shard of the images; the correct
    # counts (clean first, then every curve point in order) are summed over the ranks
    _, x_mine, y_mine = shard_of(images, labels)
    counts: list[int] = []
    for net in models.values():
        check_model(net)
        bs = resolve_batch_size(batch_size, net, x_mine, backward=False)

        def score(x: torch.Tensor, net: nn.Module = net, bs: int = bs) -> int:
            return int((batched_logits(net, x, bs).argmax(1) == y_mine).sum())

        counts.append(score(x_mine))
        for p in PASSES:
            for k in kind_list:
                for r in rads:
                    counts.append(score(filters[p](x_mine, r, kind=k, boundary=edge)))
                    done += 1
                    if progress is not None:
                        progress(done, total)
    rates = iter(summed_fractions(counts, n))
    for name in models:
        clean[name] = next(rates)
        acc[name] = {p: {k: [next(rates) for _ in rads] for k in kind_list} for p in PASSES}
    h, w = (int(v) for v in images.shape[-2:])
    return FilteredAccuracy(
        radii=rads,
        kinds=kind_list,
        boundary=edge.value,
        n_images=n,
        image_size=(h, w),
        clean_accuracy=clean,
        accuracy=acc,
    )
