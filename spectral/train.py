"""Training recipes for the built-in zoo (deterministic for a seed on a given machine)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from enum import Enum
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from spectral.attacks.pgd import pgd_attack, pgd_evaluation
from spectral.data.builtin import builtin_dataset
from spectral.data.dataset import ImageDataset
from spectral.defenses.penalties import linf_penalty, tv_penalty
from spectral.errors import SpectralValueError
from spectral.metrics.classification import predict
from spectral.models.insert import blur_layers, insert_blur
from spectral.models.layers import first_activation_name
from spectral.models.load import load_model
from spectral.models.smallcnn import SmallCNN

__all__ = [
    "BUILTIN_SLICE",
    "Recipe",
    "TrainConfig",
    "builtin_slice_accuracy",
    "channel_stats",
    "train_model",
]


class Recipe(str, Enum):
    """Built-in training recipes (the blur ones fine-tune ``builtin:standard``)."""

    STANDARD = "standard"
    ADVERSARIAL = "adversarial"
    BLUR_LINF = "blur-linf"  # learnable depthwise blur after conv1 + L-inf penalty
    BLUR_TV = "blur-tv"  # TV penalty on the layer-1 feature maps


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of a recipe (defaults are the ones the shipped weights used).

    Attributes:
        recipe: standard (clean data) or adversarial (FGSM with random start, Wong et al.
            2020, L-inf ``eps`` with step ``eps / 4``).
        epochs: passes over the training split.
        batch_size: images per step.
        lr: peak learning rate of the one-cycle schedule (SGD, Nesterov momentum 0.9).
        weight_decay: L2 weight decay.
        eps: L-inf radius of adversarial training and of the PGD evaluation.
        step: FGSM step of adversarial training.
        width: channels of the first conv layers.
        blocks: conv layers per stage of the :class:`~spectral.models.SmallCNN`.
        pad: random-crop padding (reflection) of the augmentation, in pixels.
        bf16: train under ``torch.autocast`` in bfloat16 (fast on CPUs with AMX and on
            GPUs); the evaluation always runs in float32.
        pgd_images: PGD-10 evaluation on a class-balanced subset of this many test images
            (0: all; clean accuracy is always on all of them).
        seed: seeds initialisation, data order, augmentation and the random starts.
        kernel_size: blur kernel side of the ``blur-linf`` recipe.
        alpha: penalty strength of the blur recipes (the slides' alpha / alpha_TV).
    """

    recipe: Recipe = Recipe.STANDARD
    epochs: int = 16
    batch_size: int = 128
    lr: float = 0.1
    weight_decay: float = 5e-4
    eps: float = 8 / 255
    step: float = 10 / 255
    width: int = 64
    blocks: tuple[int, ...] = (2, 2, 2)
    pad: int = 4
    bf16: bool = True
    pgd_images: int = 0
    seed: int = 0
    kernel_size: int = 3
    alpha: float = 1e-5

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        d = asdict(self)
        d["recipe"] = self.recipe.value
        d["blocks"] = list(self.blocks)
        return d


def _augment(x: torch.Tensor, g: torch.Generator, pad: int = 2) -> torch.Tensor:
    """Random crop with reflection padding and random horizontal flip (per image)."""
    b, c, h, w = x.shape
    if pad == 0:
        flip = torch.rand(b, generator=g) < 0.5
        return torch.where(flip.view(b, 1, 1, 1), x.flip(-1), x)
    xp = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=g)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=g)
    out = xp.gather(2, _rows_index(xp, dy, h)).gather(3, _cols_index(dx, b, c, h, w))
    flip = torch.rand(b, generator=g) < 0.5
    out[flip] = out[flip].flip(-1)
    return out


def _rows_index(xp: torch.Tensor, dy: torch.Tensor, h: int) -> torch.Tensor:
    b, c, _, wp = xp.shape
    return (dy[:, None] + torch.arange(h)[None]).view(b, 1, h, 1).expand(b, c, h, wp)


def _cols_index(dx: torch.Tensor, b: int, c: int, h: int, w: int) -> torch.Tensor:
    return (dx[:, None] + torch.arange(w)[None]).view(b, 1, 1, w).expand(b, c, h, w)


class _FeatureTap:
    """Keeps the output of one module from the last forward pass (for the TV penalty)."""

    def __init__(self) -> None:
        self.value: torch.Tensor | None = None

    def __call__(self, module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        self.value = output


def _layer1_activation(model: nn.Module) -> nn.Module:
    """The first ReLU after the first conv: the layer-1 feature maps the next layer sees.

    (Penalising the conv output itself could be gamed: batch norm after it undoes any
    rescaling, so the conv could shrink to lower the penalty without changing anything.)
    """
    return model.get_submodule(first_activation_name(model))


def _finetune_start(cfg: TrainConfig) -> nn.Module:

    base = load_model("builtin:standard")
    if cfg.recipe is Recipe.BLUR_LINF:
        return insert_blur(base, "first_conv", kernel_size=cfg.kernel_size, learnable=True)
    return base


def _blur_penalty(
    cfg: TrainConfig, model: nn.Module
) -> tuple[Callable[[], torch.Tensor | float], Any]:
    """The recipe's regulariser (0 for the other recipes) and the hook to remove after."""
    if cfg.recipe is Recipe.BLUR_LINF:
        layers = list(blur_layers(model).values())

        def linf() -> torch.Tensor:
            return sum((linf_penalty(b, cfg.alpha) for b in layers), torch.zeros(()))

        return linf, None
    if cfg.recipe is Recipe.BLUR_TV:
        tap = _FeatureTap()
        hook = _layer1_activation(model).register_forward_hook(tap)

        def tv() -> torch.Tensor:
            assert tap.value is not None, "the forward pass runs before the penalty"
            return tv_penalty(tap.value, cfg.alpha)

        return tv, hook
    return (lambda: 0.0), None


#: Defaults that differ per recipe: the blur recipes fine-tune a trained model gently.
RECIPE_DEFAULTS: dict[Recipe, dict[str, Any]] = {
    Recipe.ADVERSARIAL: {"epochs": 12},
    Recipe.BLUR_LINF: {"epochs": 3, "lr": 0.01},
    Recipe.BLUR_TV: {"epochs": 3, "lr": 0.01, "alpha": 1e-4},
}


def train_model(
    config: TrainConfig | None = None,
    *,
    train_data: ImageDataset,
    test_data: ImageDataset,
    on_epoch: Callable[[int, int, dict[str, float]], None] | None = None,
    device: str | torch.device = "cpu",
    **overrides: Any,
) -> tuple[nn.Module, dict[str, Any]]:
    """Train a :class:`SmallCNN` with a recipe and return it with its final metrics.

    Channels-last weights, ``bf16`` autocast when the config asks for it; the blur recipes
    fine-tune ``builtin:standard``; the adversarial recipe keeps the epoch whose weights
    resist a PGD-5 probe on 256 fixed training images best (a guard against catastrophic
    overfitting of single-step training, as in Wong et al. 2020).

    Args:
        config: the hyper-parameters (default :class:`TrainConfig`); ``overrides`` replace
            single fields (e.g. ``recipe="adversarial", epochs=5``).
        train_data: training data (e.g. ``load_dataset("<CIFAR-10 folder>", "train")``; the
            built-in data holds no training split).
        test_data: evaluation data (clean and PGD-10 accuracy are measured on all of it).
        on_epoch: called after every epoch with ``(epoch, epochs, {"loss", "train_accuracy"})``
            (the CLI draws its progress bar with it).
        device: where to train; data is augmented on the CPU and moved per batch.
        **overrides: fields of :class:`TrainConfig`.

    Returns:
        ``(model in eval mode, metrics)`` with clean and PGD-10 test accuracy and the config.

    Raises:
        SpectralValueError: unknown recipe or override, or a bad value.

    Examples:
        A real run (minutes on a CPU, so not executed here)::

            model, metrics = train_model(train_data=train, test_data=test, epochs=1)

        Options are checked before anything is trained:

        >>> from spectral.data import ImageDataset
        >>> data = ImageDataset(torch.rand(4, 3, 8, 8), torch.arange(4) % 2, ("a", "b"))
        >>> train_model(train_data=data, test_data=data, optimiser="adam")
        Traceback (most recent call last):
            ...
        spectral.errors.SpectralValueError: train: unknown options ['optimiser']
        >>> train_model(train_data=data, test_data=data, recipe="mixup")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
            ...
        spectral.errors.SpectralValueError: recipe: expected one of standard, ..., got 'mixup'
    """
    cfg = config or TrainConfig()
    bad = set(overrides) - set(TrainConfig.__dataclass_fields__)
    if bad:
        raise SpectralValueError(f"train: unknown options {sorted(bad)}")
    if "recipe" in overrides:
        try:
            overrides["recipe"] = Recipe(overrides["recipe"])
        except ValueError:
            valid = ", ".join(r.value for r in Recipe)
            raise SpectralValueError(
                f"recipe: expected one of {valid}, got {overrides['recipe']!r}"
            ) from None
    recipe = overrides.get("recipe", cfg.recipe)
    if config is None:  # recipe defaults, then the caller's overrides
        cfg = replace(cfg, recipe=recipe, **RECIPE_DEFAULTS.get(recipe, {}))
    cfg = replace(cfg, **overrides)
    if cfg.epochs < 1 or cfg.batch_size < 1 or cfg.lr <= 0 or cfg.eps <= 0:
        raise SpectralValueError(f"train: expected positive epochs/batch_size/lr/eps, got {cfg}")
    if cfg.pad < 0 or cfg.width < 1:
        raise SpectralValueError(f"train: expected pad >= 0 and width >= 1, got {cfg}")

    start = time.perf_counter()
    torch.manual_seed(cfg.seed)
    g = torch.Generator().manual_seed(cfg.seed)
    if cfg.recipe in (Recipe.BLUR_LINF, Recipe.BLUR_TV):
        model = _finetune_start(cfg).to(device)
    else:
        mean, std = channel_stats(train_data.images)
        model = SmallCNN(
            num_classes=len(train_data.classes),
            width=cfg.width,
            blocks=cfg.blocks,
            mean=mean,
            std=std,
        ).to(device)
    model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    penalty, hook = _blur_penalty(cfg, model)
    opt = torch.optim.SGD(
        model.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay
    )
    steps_per_epoch = math.ceil(len(train_data) / cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    sched: torch.optim.lr_scheduler.LRScheduler
    if total >= 4:  # one-cycle needs at least two steps in each phase
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=cfg.lr, total_steps=total, pct_start=max(0.25, 2.0 / total)
        )
    else:
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)
    dev_type = torch.device(device).type
    autocast = partial(torch.autocast, dev_type, dtype=torch.bfloat16, enabled=cfg.bf16)
    x_all, y_all = train_data.images, train_data.labels
    # catastrophic-overfitting guard of single-step adversarial training (Wong et al. 2020):
    # PGD accuracy on a fixed batch of training images after each epoch; the best epoch's
    # weights are kept, so a collapse in the last epochs is not what gets shipped
    guard = cfg.recipe is Recipe.ADVERSARIAL
    probe = torch.randperm(len(x_all), generator=g)[:256] if guard else None
    best: tuple[float, dict[str, torch.Tensor], int] | None = None
    history: list[dict[str, float]] = []
    for epoch in range(cfg.epochs):
        model.train()
        perm = torch.randperm(len(x_all), generator=g)
        loss_sum, correct = 0.0, 0
        for i in range(0, len(perm), cfg.batch_size):
            idx = perm[i : i + cfg.batch_size]
            x = _augment(x_all[idx], g, pad=cfg.pad).to(device)
            x = x.contiguous(memory_format=torch.channels_last)
            y = y_all[idx].to(device)
            if cfg.recipe is Recipe.ADVERSARIAL:
                # FGSM with a random start ("fast is better than free"), BN in train mode
                noise = (2 * torch.rand(x.shape, generator=g) - 1) * cfg.eps
                delta = noise.to(device).requires_grad_(True)
                with autocast():
                    loss = F.cross_entropy(model((x + delta).clamp(0, 1)), y)
                (grad,) = torch.autograd.grad(loss, delta)
                delta = (delta.detach() + cfg.step * grad.sign()).clamp(-cfg.eps, cfg.eps)
                x = (x + delta).clamp(0, 1)
            with autocast():
                logits = model(x)
                loss = F.cross_entropy(logits.float(), y) + penalty()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((logits.argmax(1) == y).sum())
        stats = {"loss": loss_sum / len(perm), "train_accuracy": correct / len(perm)}
        if probe is not None:
            xp, yp = x_all[probe].to(device), y_all[probe].to(device)
            gp = torch.Generator().manual_seed(cfg.seed)
            xa = pgd_attack(
                model, xp, yp, eps=cfg.eps, step_size=cfg.eps / 4, steps=5, generator=gp
            )
            stats["probe_pgd5_accuracy"] = float((predict(model, xa) == yp).float().mean())
            if best is None or stats["probe_pgd5_accuracy"] >= best[0]:
                state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                best = (stats["probe_pgd5_accuracy"], state, epoch + 1)
        history.append({"epoch": epoch + 1, **stats})
        if on_epoch is not None:
            on_epoch(epoch + 1, cfg.epochs, stats)
    if hook is not None:
        hook.remove()
    kept = cfg.epochs
    if best is not None and best[2] != cfg.epochs:
        model.load_state_dict(best[1])
        kept = best[2]
    model.eval()
    train_seconds = time.perf_counter() - start
    model = model.cpu().to(memory_format=torch.channels_last)  # faster for the evaluation
    metrics = pgd_evaluation(
        model, test_data, eps=cfg.eps, steps=10, seed=cfg.seed, pgd_images=cfg.pgd_images
    )
    model = model.to(memory_format=torch.contiguous_format)
    return model, {
        **metrics,
        "config": cfg.to_dict(),
        "train_data": train_data.name,
        "n_train": len(train_data),
        "test_data": test_data.name,
        "epoch_kept": kept,
        "history": history,
        "train_seconds": round(train_seconds, 1),
        "eval_seconds": round(time.perf_counter() - start - train_seconds, 1),
    }


#: The fixed slice of the built-in data on which each zoo entry's accuracy is recorded, so a
#: test can check that the shipped weights still reproduce it.
BUILTIN_SLICE = {"n": 500, "seed": 0}


def builtin_slice_accuracy(model: nn.Module) -> dict[str, Any]:
    """Clean accuracy of ``model`` on :data:`BUILTIN_SLICE` of the built-in CIFAR-10 subset.

    Args:
        model: classifier on ``(B, 3, 32, 32)`` images in ``[0, 1]`` returning 10 logits.

    Returns:
        ``{"n", "seed", "correct", "clean_accuracy"}``.

    Raises:
        SpectralTypeError: ``model`` is not an ``nn.Module`` (from
            :func:`~spectral.metrics.predict`).
        SpectralValueError: the model does not return ``(B, K)`` logits.

    Examples:
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 10))
        >>> _ = torch.nn.init.zeros_(net[1].weight)
        >>> _ = torch.nn.init.zeros_(net[1].bias)  # all logits tie: always class 0
        >>> builtin_slice_accuracy(net)  # the slice is class-balanced: 50 images per class
        {'n': 500, 'seed': 0, 'correct': 50, 'clean_accuracy': 0.1}
    """
    data = builtin_dataset("test").subset(BUILTIN_SLICE["n"], seed=BUILTIN_SLICE["seed"])
    correct = int((predict(model, data.images) == data.labels).sum())
    return {**BUILTIN_SLICE, "correct": correct, "clean_accuracy": correct / len(data)}


def channel_stats(images: torch.Tensor, *, chunk: int = 4096) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation over all pixels of ``(N, C, H, W)`` images.

    Computed in float64 in chunks (the zoo's :class:`~spectral.models.Normalize` constants).

    Args:
        images: the images.
        chunk: images converted to float64 at a time (bounds the memory used).

    Returns:
        ``(mean, std)``, each a list of ``C`` floats rounded to 4 decimals (the population
        standard deviation).

    Shape:
        - images: :math:`(N, C, H, W)`

    Examples:
        >>> x = torch.zeros(2, 1, 2, 2); x[1] = 1.0
        >>> channel_stats(x)
        ([0.5], [0.5])
        >>> channel_stats(torch.full((5, 3, 4, 4), 0.25), chunk=2)  # constant channels
        ([0.25, 0.25, 0.25], [0.0, 0.0, 0.0])
    """
    total = torch.zeros(images.shape[1], dtype=torch.float64)
    sq = torch.zeros_like(total)
    for i in range(0, len(images), chunk):
        part = images[i : i + chunk].double()
        total += part.sum(dim=(0, 2, 3))
        sq += (part**2).sum(dim=(0, 2, 3))
    n = images.shape[0] * images.shape[2] * images.shape[3]
    mean = total / n
    std = (sq / n - mean**2).clamp_min(0).sqrt()
    return [round(float(v), 4) for v in mean], [round(float(v), 4) for v in std]
