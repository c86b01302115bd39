"""The BlurNet evaluation: black-box and adaptive tables, and the result of all three.

The white-box table (PGD + RP2) is in :mod:`spectral.defenses.whitebox`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from spectral._internal.batching import attack_in_batches, resolve_batch_size
from spectral._internal.progress import StepProgress
from spectral.metrics.attack import attack_success_rate
from spectral.metrics.classification import accuracy
from spectral.metrics.uncertainty import proportion_interval
from spectral.models.insert import insert_blur

__all__ = [
    "BlurEvaluation",
    "blackbox_blur_table",
    "defense_name",
]


_RATES = ("accuracy", "attack_success_rate", "adversarial_accuracy")


def _with_intervals(row: dict[str, Any], n: int) -> dict[str, Any]:
    """``row`` plus ``intervals``: a 95 % Wilson interval of each of its rates on ``n``."""
    row["intervals"] = {k: proportion_interval(row[k], n).to_dict() for k in _RATES}
    return row


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
