"""A torchattacks-free L-inf PGD (bf16, channels-last): the training probe and its evaluation."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from spectral._internal.batching import resolve_batch_size
from spectral._internal.checkpoint import BatchStore
from spectral._internal.modelstate import model_left_as_found, set_eval
from spectral.data.dataset import ImageDataset
from spectral.distributed import agreed_batch_size, all_reduce_sum, my_block
from spectral.metrics.classification import accuracy, predict

__all__ = ["pgd_attack", "pgd_evaluation"]


def pgd_attack(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    step_size: float,
    steps: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """L-inf PGD with a uniform random start (Madry et al.), deterministic for a generator.

    Used for the zoo's robust-accuracy measurement (:func:`evaluate`); every module's
    training flag and the parameter gradients are left as found.

    The start is drawn uniformly from the ``eps`` ball; each of the ``steps`` steps adds
    ``step_size * sign(grad)`` of the cross-entropy, then projects back onto the ``eps`` ball
    and the ``[0, 1]`` image range. The model runs in eval mode. Arguments are not
    validated (a fast inner loop); use :func:`make_attack` for checked attacks.

    Args:
        model: classifier on images in ``[0, 1]`` returning logits ``(B, K)``.
        x: clean images in ``[0, 1]``.
        y: their true labels (integers in ``[0, K)``).
        eps: L-inf radius of the perturbation.
        step_size: step size.
        steps: number of steps (0: only the random start).
        generator: CPU generator of the random start (``None``: the global RNG).

    Returns:
        The adversarial images, detached, on ``x``'s device, within ``eps`` of ``x`` and
        in ``[0, 1]``.

    Shape:
        - x: :math:`(B, C, H, W)`
        - y: :math:`(B,)`
        - Output: :math:`(B, C, H, W)`

    Examples:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
        >>> x, y = torch.rand(2, 3, 2, 2), torch.tensor([0, 1])
        >>> def run(seed):
        ...     g = torch.Generator().manual_seed(seed)
        ...     return pgd_attack(model, x, y, eps=8 / 255, step_size=2 / 255, steps=3, generator=g)
        >>> adv = run(0)
        >>> adv.shape, bool((adv - x).abs().max() <= 8 / 255 + 1e-6)
        (torch.Size([2, 3, 2, 2]), True)
        >>> bool(adv.min() >= 0 and adv.max() <= 1), torch.equal(adv, run(0))  # deterministic
        (True, True)
    """
    with model_left_as_found(model):
        set_eval(model)
        noise = torch.rand(x.shape, generator=generator, dtype=x.dtype)
        delta = ((2 * noise - 1) * eps).to(x.device)
        delta = (x + delta).clamp(0, 1) - x
        for _ in range(steps):
            delta.requires_grad_(True)
            loss = F.cross_entropy(model(x + delta), y)
            (grad,) = torch.autograd.grad(loss, delta)
            delta = (delta.detach() + step_size * grad.sign()).clamp(-eps, eps)
            delta = (x + delta).clamp(0, 1) - x
    return (x + delta).detach()


def pgd_evaluation(
    model: nn.Module,
    data: ImageDataset,
    *,
    eps: float = 8 / 255,
    steps: int = 10,
    seed: int = 0,
    batch_size: int | None = None,
    pgd_images: int = 0,
) -> dict[str, float]:
    """Clean accuracy and PGD-``steps`` (L-inf ``eps``, step ``eps/4``) robust accuracy.

    Clean accuracy is measured on all of ``data``; PGD on all of it, or with
    ``pgd_images > 0`` on a class-balanced subset of that many images (seeded), recorded
    as ``n_pgd``.

    Args:
        model: classifier on images in ``[0, 1]`` returning logits; its training flags
            and parameter gradients are left as found.
        data: the test data.
        eps: L-inf radius of the PGD attack (step ``eps / 4``, uniform random start).
        steps: PGD iterations (also names the result key ``pgd<steps>_accuracy``).
        seed: seed of the random starts and of the ``pgd_images`` subset.
        batch_size: images per attack call; None (default) picks one from the free
            memory (:func:`~spectral.metrics.auto_batch_size`). The random starts come
            from one generator in image order, so the result does not depend on it.
        pgd_images: attack only a class-balanced subset of this many images (0, or at
            least ``len(data)``: all of them).

    Returns:
        ``{"clean_accuracy", "pgd<steps>_accuracy", "eps", "n_test", "n_pgd"}``: the two
        accuracies as floats in ``[0, 1]``, ``n_test = len(data)`` and ``n_pgd`` the
        number of images attacked.

    Raises:
        SpectralTypeError: ``model`` is not an ``nn.Module`` (from
            :func:`~spectral.metrics.accuracy`).
        SpectralValueError: non-finite images, or a model that does not return
            ``(B, K)`` logits (from :func:`~spectral.metrics.accuracy`).

    Examples:
        >>> from spectral.data import ImageDataset
        >>> data = ImageDataset(torch.rand(6, 3, 2, 2), torch.arange(6) % 3, ("a", "b", "c"))
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
        >>> _ = torch.nn.init.zeros_(net[1].weight)  # a constant guess: PGD cannot move it
        >>> m = pgd_evaluation(net, data, steps=3, pgd_images=3)
        >>> sorted(m), m["n_test"], m["n_pgd"]
        (['clean_accuracy', 'eps', 'n_pgd', 'n_test', 'pgd3_accuracy'], 6, 3)
        >>> round(m["clean_accuracy"], 4), round(m["pgd3_accuracy"], 4)  # 1 in 3 classes
        (0.3333, 0.3333)
    """
    g = torch.Generator().manual_seed(seed)
    clean = accuracy(model, data.images, data.labels)
    pgd_data = data.subset(pgd_images, seed=seed) if 0 < pgd_images < len(data) else data
    x, y = pgd_data.images, pgd_data.labels
    bs = agreed_batch_size(resolve_batch_size(batch_size, model, x, backward=True))
    first, stop = my_block(len(x), bs)  # under torch.distributed: this rank's batches
    store = BatchStore("pgd_evaluation", model, eps, steps, seed)  # under resumable()
    robust = 0
    for i in range(0, len(x), bs):
        yb = y[i : i + bs]
        kept = store.load(i, x[i : i + bs], yb) if first <= i < stop else None
        if kept is not None or not first <= i < stop:  # done, or another rank's batch:
            torch.rand(x[i : i + bs].shape, generator=g, dtype=x.dtype)  # draw its start
            robust += 0 if kept is None else int(kept)
            continue
        xa = pgd_attack(
            model, x[i : i + bs], yb, eps=eps, step_size=eps / 4, steps=steps, generator=g
        )
        correct = int((predict(model, xa, batch_size=bs) == yb).sum())
        store.save(correct, i, x[i : i + bs], yb)
        robust += correct
    robust = int(all_reduce_sum(torch.tensor(robust, dtype=torch.int64)))
    return {
        "clean_accuracy": clean,
        f"pgd{steps}_accuracy": robust / len(x),
        "eps": eps,
        "n_test": len(data),
        "n_pgd": len(x),
    }
