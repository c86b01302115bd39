"""The BlurNet white-box table (slides Table 2): targeted PGD and RP2 through each defense."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from spectral._internal.batching import resolve_batch_size
from spectral._internal.progress import StepProgress
from spectral.errors import SpectralValueError
from spectral.metrics.attack import targeted_success_rates
from spectral.metrics.classification import accuracy
from spectral.metrics.uncertainty import bootstrap_statistic, proportion_interval, wilson_interval

__all__ = ["rp2_stickers", "whitebox_blur_table"]


def _average_interval(success: torch.Tensor, seed: int) -> dict[str, Any]:
    """Bootstrap over images of the mean over targets of the per-target success rates.

    ``success`` is ``(B, K)``: 0/1 per image and target, NaN where not attacked. A
    resample without images for some target averages over the other targets.
    """
    attacked = ~success.isnan()
    hit = success.nan_to_num(0.0)

    def average(idx: torch.Tensor) -> torch.Tensor:
        den = attacked[idx].sum(1).double()  # (R, K)
        rates = hit[idx].sum(1) / den.clamp(min=1)
        return (rates * (den > 0)).sum(1) / (den > 0).sum(1)

    return bootstrap_statistic(success.shape[0], average, seed=seed).to_dict()


def rp2_stickers(height: int = 32, width: int = 32) -> torch.Tensor:
    """A sticker mask ``(H, W)``: two horizontal bars, like the RP2 stop-sign stickers.

    Each bar is ``max(1, H // 8)`` rows high, starts at row ``H // 4`` (the top one) or
    ends ``H // 4`` rows above the bottom (the other one), and leaves ``W // 6`` columns
    free at each side.

    Args:
        height: mask height ``H``.
        width: mask width ``W``.

    Returns:
        A float32 mask of 0 and 1 (1 on the stickers), e.g. ``rp2_mask`` of
        :func:`whitebox_blur_table`.

    Shape:
        - Output: :math:`(H, W)`

    Examples:
        >>> m = rp2_stickers(8, 12)
        >>> m.shape, int(m.sum())  # two bars of 1 x 8 pixels
        (torch.Size([8, 12]), 16)
        >>> m[:, 6].nonzero().flatten().tolist(), m[2].nonzero().flatten().tolist()
        ([2, 5], [2, 3, 4, 5, 6, 7, 8, 9])
    """
    m = torch.zeros(height, width)
    bar = max(1, height // 8)
    left, right = width // 6, width - width // 6
    for top in (height // 4, height - height // 4 - bar):
        m[top : top + bar, left:right] = 1.0
    return m


def whitebox_blur_table(
    defenses: Sequence[tuple[str, float, nn.Module]],
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    num_classes: int,
    attacks: Sequence[str] = ("pgd", "rp2"),
    eps: float = 8 / 255,
    steps: int = 10,
    rp2_steps: int = 50,
    rp2_mask: torch.Tensor | None = None,
    rp2_form: str = "universal",
    seed: int = 0,
    batch_size: int | None = None,
    progress: StepProgress = None,
) -> list[dict[str, Any]]:
    """Table 2 of the slides: targeted white-box attacks through each defense.

    Args:
        defenses: ``(name, alpha, model)`` per row.
        images: clean test images.
        labels: their labels.
        num_classes: number of classes; every class is a target in turn.
        attacks: ``"pgd"`` (targeted, L-inf ``eps``) and/or ``"rp2"`` (targeted, masked by
            ``rp2_mask``, default :func:`rp2_stickers`, unbounded inside the mask).
        eps: PGD budget.
        steps: PGD iterations.
        rp2_steps: RP2 optimisation steps.
        rp2_mask: RP2 mask ``(H, W)``.
        rp2_form: ``"universal"`` (default): the authors' attack,
            :class:`~spectral.attacks.UniversalRP2`, one sticker per target class shared
            by all images attacked towards it (one call, not batched), whole-image
            transforms, small printability and smoothness terms; ``"per_image"``:
            :class:`~spectral.attacks.RP2`, a sticker per image.
        seed: attack seed.
        batch_size: images per attack call and per forward pass; None (default) picks
            one per model from the free memory (:func:`~spectral.metrics.auto_batch_size`).
            Seeded attacks draw their random starts per batch.
        progress: called with a short label before each model/attack.

    Returns:
        Rows with ``defense``, ``alpha``, ``attack`` (with ``rp2_form`` for RP2),
        ``accuracy`` (legitimate),
        ``avg_success_rate``, ``worst_success_rate`` (the attacker's best target) and
        ``l2_distortion`` (mean ||x - x_adv|| / ||x_adv||), and ``intervals`` (95 %,
        ``to_dict()``): ``accuracy`` Wilson on the ``B`` images; ``avg_success_rate``
        percentile bootstrap over the ``B`` images (each resample recomputes every
        target's rate and their mean); ``worst_success_rate`` Wilson of the worst
        target's count, ``n`` = the images attacked towards it.

    Raises:
        SpectralValueError: ``attacks`` names anything but ``"pgd"`` and ``"rp2"``; bad
            shapes, labels outside ``[0, num_classes)``, ``num_classes < 2`` or a class
            holding every image (from
            :func:`~spectral.metrics.targeted_success_rates`); bad attack options or an
            ``rp2_mask`` that does not fit the images.
        SpectralTypeError: a model that is not an ``nn.Module``, or images, labels or
            ``num_classes`` of the wrong type.

    Shape:
        - images: :math:`(B, C, H, W)`
        - labels: :math:`(B,)`
        - rp2_mask: :math:`(H, W)`

    Examples:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 3))
        >>> x, y = torch.rand(6, 3, 4, 4), torch.arange(6) % 3
        >>> rows = whitebox_blur_table(
        ...     [("baseline", 0.0, net)], x, y, num_classes=3, steps=3, rp2_steps=2
        ... )
        >>> [(r["defense"], r["attack"]) for r in rows]
        [('baseline', 'pgd'), ('baseline', 'rp2')]
        >>> all(r["worst_success_rate"] >= r["avg_success_rate"] for r in rows)
        True
    """
    from spectral.attacks.factory import make_attack
    from spectral.attacks.rp2 import RP2
    from spectral.attacks.rp2_universal import UniversalRP2

    if rp2_form not in ("universal", "per_image"):
        raise SpectralValueError(f"rp2_form: expected 'universal' or 'per_image', got {rp2_form!r}")

    unknown = set(attacks) - {"pgd", "rp2"}
    if unknown:
        raise SpectralValueError(f"attacks: expected 'pgd' and/or 'rp2', got {sorted(unknown)}")
    mask = rp2_stickers(*images.shape[-2:]) if rp2_mask is None else rp2_mask
    rows = []
    for name, alpha, model in defenses:
        mb = resolve_batch_size(batch_size, model, images, backward=True)
        acc = accuracy(model, images, labels, batch_size=mb)
        for atk_name in attacks:
            if progress:
                progress(f"{name}: targeted {atk_name}")

            def factory(m: nn.Module = model, a: str = atk_name) -> Any:
                if a == "pgd":
                    return make_attack("pgd", m, eps=eps, steps=steps, seed=seed)
                if rp2_form == "per_image":
                    return RP2(
                        m, mask=mask.to(images.device), steps=rp2_steps, n_transforms=4, seed=seed
                    )
                return UniversalRP2(
                    m,
                    mask.to(images.device),
                    steps=rp2_steps,
                    nps_weight=0.01,
                    tv_weight=0.01,
                    seed=seed,
                )

            universal = atk_name == "rp2" and rp2_form == "universal"
            r = targeted_success_rates(
                model,
                images,
                labels,
                factory,
                num_classes=num_classes,
                batch_size=len(images) if universal else mb,  # the victim set in one call
            )
            worst = max(r["per_target"], key=r["per_target"].__getitem__)
            col = r["success"][:, worst]
            col = col[~col.isnan()]
            intervals = {
                "accuracy": proportion_interval(acc, len(images)).to_dict(),
                "avg_success_rate": _average_interval(r["success"], seed),
                "worst_success_rate": wilson_interval(int(col.sum()), len(col)).to_dict(),
            }
            rows.append(
                {
                    "defense": name,
                    "alpha": alpha,
                    "attack": atk_name,
                    **({"rp2_form": rp2_form} if atk_name == "rp2" else {}),
                    "accuracy": acc,
                    "avg_success_rate": r["average"],
                    "worst_success_rate": r["worst"],
                    "l2_distortion": r["l2_distortion"],
                    "intervals": intervals,
                }
            )
    return rows
