"""The BlurNet evaluation: black-box, adaptive and white-box (PGD + RP2) tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from spectral._internal.batching import attack_in_batches, resolve_batch_size
from spectral._internal.progress import StepProgress
from spectral.errors import SpectralValueError
from spectral.metrics.attack import attack_success_rate, targeted_success_rates
from spectral.metrics.classification import accuracy
from spectral.metrics.uncertainty import bootstrap_statistic, proportion_interval, wilson_interval
from spectral.models.insert import insert_blur

__all__ = [
    "BlurEvaluation",
    "blackbox_blur_table",
    "defense_name",
    "rp2_stickers",
    "whitebox_blur_table",
]


_RATES = ("accuracy", "attack_success_rate", "adversarial_accuracy")


def _with_intervals(row: dict[str, Any], n: int) -> dict[str, Any]:
    """``row`` plus ``intervals``: a 95 % Wilson interval of each of its rates on ``n``."""
    row["intervals"] = {k: proportion_interval(row[k], n).to_dict() for k in _RATES}
    return row


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


def defense_name(position: str, kernel_size: int) -> str:
    """Row label as in the slides: ``input 3x3`` / ``3x3 on L1 feature maps`` / ``... after X``.

    Args:
        position: where the blur sits, as :func:`~spectral.models.insert_blur` takes it
            (``"input"``, ``"first_conv"``, ``"first_relu"`` or a module name).
        kernel_size: the blur kernel side ``k``.

    Returns:
        The label of the defense's table row.

    Examples:
        >>> defense_name("input", 3), defense_name("first_conv", 5)
        ('input 3x3', '5x5 on L1 feature maps')
        >>> defense_name("features.relu2", 3)
        '3x3 after features.relu2'
    """
    k = f"{kernel_size}x{kernel_size}"
    if position == "input":
        return f"input {k}"
    if position == "first_conv":
        return f"{k} on L1 feature maps"
    if position == "first_relu":
        return f"{k} on L1 feature maps after ReLU"
    return f"{k} after {position}"


def blackbox_blur_table(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    surrogate: nn.Module | None = None,
    attack: str = "pgd",
    eps: float = 8 / 255,
    steps: int = 10,
    sizes: Sequence[int] = (3, 5),
    positions: Sequence[str] = ("input", "first_conv"),
    kind: str = "box",
    seed: int = 0,
    batch_size: int | None = None,
    progress: StepProgress = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Table 1 of the slides plus an adaptive (white-box through the blur) attack.

    Args:
        model: the trained, undefended model; each defense inserts a fixed blur into a copy.
        images: clean test images ``(B, C, H, W)`` in [0, 1].
        labels: their labels.
        surrogate: model the transferred examples are crafted on (default ``model``).
        attack: attack name for :func:`spectral.make_attack` (untargeted).
        eps: attack budget.
        steps: attack iterations.
        sizes: blur kernel sizes.
        positions: ``"input"``, ``"first_conv"`` or module names.
        kind: ``"box"`` or ``"gaussian"``.
        seed: attack seed.
        batch_size: images per attack call and per forward pass; None (default) picks
            one per model from the free memory (:func:`~spectral.metrics.auto_batch_size`).
            Seeded attacks draw their random starts per batch.
        progress: called with a short label before each step.

    Returns:
        ``(blackbox, adaptive)`` rows. Black-box rows: ``defense``, ``accuracy`` (clean),
        ``attack_success_rate`` (1[f(x) != f(x_adv)] on the defended model),
        ``adversarial_accuracy``. Adaptive rows: ``defense``, ``accuracy``,
        ``attack_success_rate`` and ``adversarial_accuracy`` under the same attack run
        through the defended model. Each row also has ``intervals``: rate -> 95 % Wilson
        interval ``to_dict()`` on the ``B`` images.

    Raises:
        SpectralValueError: an unknown position, size or kind (from
            :func:`~spectral.models.insert_blur`), an unknown attack or bad ``eps`` /
            ``steps`` (from :func:`spectral.make_attack`), or bad image/label shapes.
        SpectralTypeError: a model that is not an ``nn.Module``, or images/labels of the
            wrong type.

    Shape:
        - images: :math:`(B, C, H, W)`
        - labels: :math:`(B,)`

    Examples:
        >>> import torch
        >>> nn = torch.nn
        >>> net = nn.Sequential(
        ...     nn.Conv2d(3, 2, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(32, 3)
        ... )
        >>> x, y = torch.rand(6, 3, 4, 4), torch.arange(6) % 3
        >>> blackbox, adaptive = blackbox_blur_table(net, x, y, sizes=(3,), steps=2)
        >>> [r["defense"] for r in blackbox]
        ['baseline', 'input 3x3', '3x3 on L1 feature maps']
        >>> blackbox[0]["attack_success_rate"] == adaptive[0]["attack_success_rate"]
        True
    """
    from spectral.attacks.factory import make_attack

    surrogate = model if surrogate is None else surrogate
    if progress:
        progress(f"craft {attack} on the surrogate")
    bs = resolve_batch_size(batch_size, surrogate, images, backward=True)
    x_adv = attack_in_batches(
        make_attack(attack, surrogate, eps=eps, steps=steps, seed=seed), images, labels, bs
    )
    defenses: list[tuple[str, nn.Module]] = [("baseline", model)]
    for pos in positions:
        for k in sizes:
            defenses.append(
                (defense_name(pos, k), insert_blur(model, pos, kernel_size=k, kind=kind))
            )
    blackbox, adaptive = [], []
    for name, m in defenses:
        if progress:
            progress(name)
        mb = resolve_batch_size(batch_size, m, images, backward=True)
        row = {
            "defense": name,
            "accuracy": accuracy(m, images, labels, batch_size=mb),
            "attack_success_rate": attack_success_rate(m, images, x_adv, batch_size=mb),
            "adversarial_accuracy": accuracy(m, x_adv, labels, batch_size=mb),
        }
        blackbox.append(_with_intervals(row, len(images)))
        atk = make_attack(attack, m, eps=eps, steps=steps, seed=seed)
        x_ad = attack_in_batches(atk, images, labels, mb)
        row = {
            "defense": name,
            "accuracy": blackbox[-1]["accuracy"],
            "attack_success_rate": attack_success_rate(m, images, x_ad, batch_size=mb),
            "adversarial_accuracy": accuracy(m, x_ad, labels, batch_size=mb),
        }
        adaptive.append(_with_intervals(row, len(images)))
    return blackbox, adaptive


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
        seed: attack seed.
        batch_size: images per attack call and per forward pass; None (default) picks
            one per model from the free memory (:func:`~spectral.metrics.auto_batch_size`).
            Seeded attacks draw their random starts per batch.
        progress: called with a short label before each model/attack.

    Returns:
        Rows with ``defense``, ``alpha``, ``attack``, ``accuracy`` (legitimate),
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
                return RP2(
                    m, mask=mask.to(images.device), steps=rp2_steps, n_transforms=4, seed=seed
                )

            r = targeted_success_rates(
                model, images, labels, factory, num_classes=num_classes, batch_size=mb
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
                    "accuracy": acc,
                    "avg_success_rate": r["average"],
                    "worst_success_rate": r["worst"],
                    "l2_distortion": r["l2_distortion"],
                    "intervals": intervals,
                }
            )
    return rows


@dataclass(frozen=True)
class BlurEvaluation:
    """Both tables and the settings that produced them."""

    blackbox: list[dict[str, Any]]
    adaptive: list[dict[str, Any]]
    whitebox: list[dict[str, Any]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable: keys ``blackbox``, ``adaptive``, ``whitebox``, ``settings``."""
        return {
            "settings": self.settings,
            "blackbox": self.blackbox,
            "adaptive": self.adaptive,
            "whitebox": self.whitebox,
        }

    def markdown(self) -> str:
        """The tables as Markdown (percentages as in the slides, with 95% intervals)."""

        def pct(r: dict[str, Any], key: str) -> str:
            d = r.get("intervals", {}).get(key)
            if d is None:
                return f"{100 * r[key]:.1f}%"
            lo, hi = d["ci95"]
            return f"{100 * r[key]:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]"

        def n_of(rows: list[dict[str, Any]], key: str) -> Any:
            return next(
                (r["intervals"]["accuracy"]["n"] for r in rows if "intervals" in r),
                self.settings.get(key, "?"),
            )

        n = n_of(self.blackbox, "n_images")
        out = ["**Black-box (transferred) evaluation**", ""]
        out += [f"95% Wilson intervals on n = {n} images.", ""]
        out += [
            "| defense | accuracy | attack success rate | adversarial accuracy |",
            "|---|---:|---:|---:|",
        ]
        out += [
            f"| {r['defense']} | {pct(r, 'accuracy')} | {pct(r, 'attack_success_rate')} | "
            f"{pct(r, 'adversarial_accuracy')} |"
            for r in self.blackbox
        ]
        out += ["", "**Adaptive (white-box through the fixed blur)**", ""]
        out += [f"95% Wilson intervals on n = {n} images.", ""]
        out += ["| defense | accuracy | attack success rate | adversarial accuracy |"]
        out += ["|---|---:|---:|---:|"]
        out += [
            f"| {r['defense']} | {pct(r, 'accuracy')} | {pct(r, 'attack_success_rate')} | "
            f"{pct(r, 'adversarial_accuracy')} |"
            for r in self.adaptive
        ]
        if self.whitebox:
            nw = n_of(self.whitebox, "whitebox_images")
            out += ["", "**White-box evaluation (targeted, every other class)**", ""]
            out += [
                f"95% intervals, n = {nw} images: Wilson for the legitimate accuracy; "
                "bootstrap over images for the average success (each resample recomputes "
                "every target's rate); Wilson for the worst success on the images attacked "
                "towards the worst target.",
                "",
            ]
            out += [
                "| defense | attack | α | legitimate acc. | average success | worst success "
                "| L2 distortion |",
                "|---|---|---:|---:|---:|---:|---:|",
            ]
            out += [
                f"| {r['defense']} | {r['attack']} | {r['alpha']:g} | {pct(r, 'accuracy')} | "
                f"{pct(r, 'avg_success_rate')} | {pct(r, 'worst_success_rate')} | "
                f"{r['l2_distortion']:.3f} |"
                for r in self.whitebox
            ]
        return "\n".join(out) + "\n"
