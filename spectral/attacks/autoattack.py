"""Robust accuracy under AutoAttack's APGD-CE then APGD-T."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from spectral._internal.batching import resolve_batch_size
from spectral._internal.checkpoint import BatchStore
from spectral.attacks.factory import make_attack
from spectral.distributed import agreed_batch_size, all_reduce_sum, my_block
from spectral.errors import SpectralValueError
from spectral.metrics.classification import predict

__all__ = ["apgd_robust_accuracy"]


def apgd_robust_accuracy(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float = 8 / 255,
    steps: int = 100,
    n_classes: int = 10,
    seed: int = 0,
    batch_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Robust accuracy under AutoAttack's APGD-CE followed by APGD-T (L-inf), as counts.

    The first two attacks of AutoAttack's standard version (Croce & Hein 2020), run as it
    runs them: APGD with the cross-entropy loss on every correctly classified image, then
    targeted APGD (DLR loss, each of the ``n_classes - 1`` other classes) on the images
    that survived it; an image counts as robust only if it survives both. With
    ``steps=100`` and one restart each this is what RobustBench's AutoAttack numbers start
    from (FAB-T and Square, its last two attacks, rarely lower them further).

    Args:
        model: the classifier (images in [0, 1]).
        x: images ``(N, C, H, W)``.
        y: labels ``(N,)``.
        eps: L-inf budget.
        steps: iterations of each APGD run.
        n_classes: classes of the model (APGD-T targets the other ``n_classes - 1``).
        seed: seed of the attacks' random starts.
        batch_size: images per attack call; None (default) picks one from the free
            memory (:func:`~spectral.metrics.auto_batch_size`). The attacks' random
            starts are drawn per batch (reseeded with ``seed`` for each).
        progress: called with ``(images done, total)`` after each batch.

    Returns:
        ``{"n", "clean_correct", "apgd_ce_correct", "apgd_t_correct", "clean_accuracy",
        "apgd_ce_accuracy", "robust_accuracy", "eps", "steps"}``; ``robust_accuracy`` is
        the accuracy after both attacks.

    Raises:
        SpectralValueError: bad ``eps``/``steps``/``n_classes`` (from :func:`make_attack`),
            or ``x`` and ``y`` of different lengths.
        SpectralTypeError: ``model`` is not an ``nn.Module``, or options of the wrong type
            (from :func:`make_attack`).

    Shape:
        - x: :math:`(N, C, H, W)`
        - y: :math:`(N,)`

    Examples:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 4))
        >>> x, y = torch.rand(4, 3, 2, 2), torch.arange(4)
        >>> r = apgd_robust_accuracy(model, x, y, eps=8 / 255, steps=5, n_classes=4)
        >>> r["n"], r["steps"], r["clean_correct"] >= r["apgd_ce_correct"] >= r["apgd_t_correct"]
        (4, 5, True)
        >>> r["robust_accuracy"] == r["apgd_t_correct"] / 4
        True
    """
    if len(x) != len(y):
        raise SpectralValueError(f"y: expected {len(x)} labels for {len(x)} images, got {len(y)}")
    ce = make_attack("apgd", model, eps=eps, steps=steps, loss="ce", seed=seed)
    tgt = make_attack("apgdt", model, eps=eps, steps=steps, n_classes=n_classes, seed=seed)
    bs = agreed_batch_size(resolve_batch_size(batch_size, model, x, backward=True))
    first, stop = my_block(len(x), bs)  # under torch.distributed: this rank's batches
    counts = {"clean": 0, "ce": 0, "t": 0}
    store = BatchStore("apgd", model, eps, steps, n_classes, seed)  # under resumable()
    for i in range(first, stop, bs):
        xb, yb = x[i : i + bs], y[i : i + bs]
        kept = store.load(xb, yb)
        if kept is None:
            alive = predict(model, xb, batch_size=bs) == yb
            kept = [int(alive.sum())]
            for atk in (ce, tgt):
                idx = alive.nonzero().flatten()
                if len(idx):
                    adv = atk(xb[idx], yb[idx])
                    alive[idx] = predict(model, adv, batch_size=bs) == yb[idx]
                kept.append(int(alive.sum()))
            store.save(kept, xb, yb)
        for key, c in zip(("clean", "ce", "t"), kept, strict=True):
            counts[key] += int(c)
        if progress is not None:
            progress((min(i + bs, stop) - first) * len(x) // (stop - first), len(x))
    summed = all_reduce_sum(torch.tensor([counts["clean"], counts["ce"], counts["t"]]))
    counts = dict(zip(("clean", "ce", "t"), (int(c) for c in summed), strict=True))
    n = len(x)
    return {
        "n": n,
        "clean_correct": counts["clean"],
        "apgd_ce_correct": counts["ce"],
        "apgd_t_correct": counts["t"],
        "clean_accuracy": counts["clean"] / n if n else float("nan"),
        "apgd_ce_accuracy": counts["ce"] / n if n else float("nan"),
        "robust_accuracy": counts["t"] / n if n else float("nan"),
        "eps": float(eps),
        "steps": int(steps),
    }
