"""Batch sizes sized from memory, and running a model or an attack batch by batch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from spectral._internal.checkpoint import BatchStore, attack_key
from spectral._internal.modelstate import (
    apply_forward_pre_hooks,
    model_left_as_found,
    model_logits,
    set_eval,
)
from spectral._internal.validate import check_batch_size
from spectral.distributed import agreed_batch_size, batch_blocks, gather_blocks, my_block
from spectral.errors import SpectralTypeError, SpectralValueError

__all__ = [
    "MAX_AUTO_BATCH",
    "activation_bytes",
    "attack_in_batches",
    "auto_batch_size",
    "available_memory",
    "batched_logits",
    "resolve_batch_size",
]

#: Upper bound of :func:`auto_batch_size`.
MAX_AUTO_BATCH = 256

_FALLBACK_MEMORY = 4 * 1024**3  # when /proc/meminfo cannot be read

# Memory per image relative to the sum of the model's layer outputs. Inference frees each
# output once the next layer has consumed it, so the sum bounds it. A backward pass keeps
# the saved activations and builds gradients of the same sizes (x3); an attack or a
# gradient map also keeps a few image-sized tensors (x, x_adv, delta, grad, ...: 8 images).
_FORWARD_FACTOR, _BACKWARD_FACTOR, _IMAGE_COPIES = 1, 3, 8


def available_memory(device: torch.device | str) -> int:
    """Bytes free for new tensors on ``device``.

    CUDA: ``torch.cuda.mem_get_info`` (free memory of that GPU). CPU (and other
    devices): ``MemAvailable`` of ``/proc/meminfo``, lowered to the room left under a
    container's cgroup memory limit when there is one; 4 GiB where neither can be read.

    Examples:
        >>> available_memory("cpu") > 0
        True
    """
    dev = torch.device(device)
    if dev.type == "cuda":
        gpu_free, _ = torch.cuda.mem_get_info(dev)
        return int(gpu_free)
    free: int | None = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    free = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    room = _cgroup_room()
    if room is not None:
        free = room if free is None else min(free, room)
    return _FALLBACK_MEMORY if free is None else free


_CGROUP_FILES = (  # (limit, usage): cgroup v2, then v1
    ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
    ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
)


def _cgroup_room() -> int | None:
    """Bytes left under this process's cgroup memory limit, or None when unlimited/unknown."""
    for limit_file, usage_file in _CGROUP_FILES:
        try:
            with open(limit_file) as fh:
                text = fh.read().strip()
            if text == "max" or int(text) >= 1 << 60:  # no limit
                return None
            with open(usage_file) as fh:
                return max(0, int(text) - int(fh.read().strip()))
        except (OSError, ValueError):
            continue
    return None


def _tensor_bytes(obj: Any) -> int:
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, (list, tuple)):
        return sum(_tensor_bytes(o) for o in obj)
    if isinstance(obj, dict):
        return sum(_tensor_bytes(o) for o in obj.values())
    return 0


#: Activation bytes per input byte assumed for a TorchScript model (no hooks): ResNet-18
#: at 224 px holds ~15x its input in forward outputs, so 64 leaves room.
SCRIPT_ACTIVATION_FACTOR = 64


def _graph_bytes(model: torch.fx.GraphModule, one: torch.Tensor) -> int:
    total = 0

    class Counter(torch.fx.Interpreter):
        def run_node(self, n: torch.fx.Node) -> Any:
            nonlocal total
            out = super().run_node(n)
            if n.op in ("call_function", "call_module", "call_method"):
                total += _tensor_bytes(out)
            return out

    with model_left_as_found(model), torch.no_grad():
        set_eval(model)
        args, _ = apply_forward_pre_hooks(model, (one,))
        Counter(model).run(*args)
    return total


def activation_bytes(model: nn.Module, example: torch.Tensor) -> int:
    """Sum of the bytes of every leaf module's output for one image of ``example``.

    One forward pass on ``example[:1]`` in eval mode without gradients, with forward
    hooks on the leaf modules (the model is left as found). A ``torch.fx`` graph (a
    ``torch.export`` model) is run node by node and every node's output counted; a
    TorchScript model, which cannot be hooked, is estimated as
    :data:`SCRIPT_ACTIVATION_FACTOR` times the image's bytes.

    Examples:
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU())
        >>> activation_bytes(net, torch.rand(5, 3, 8, 8))  # two outputs of 4 x 8 x 8 floats
        2048
    """
    if isinstance(model, torch.jit.ScriptModule):
        return SCRIPT_ACTIVATION_FACTOR * _tensor_bytes(example[:1])
    if isinstance(model, torch.fx.GraphModule):
        return _graph_bytes(model, example[:1])
    total = 0

    def hook(_m: nn.Module, _inp: Any, out: Any) -> None:
        nonlocal total
        total += _tensor_bytes(out)

    leaves = [m for m in model.modules() if next(m.children(), None) is None]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        with model_left_as_found(model), torch.no_grad():
            set_eval(model)
            out = model(example[:1])
    finally:
        for h in handles:
            h.remove()
    if not leaves:  # a model with no modules inside (a bare function-like module)
        total = _tensor_bytes(out)
    return total


def auto_batch_size(
    model: nn.Module,
    example: torch.Tensor,
    *,
    backward: bool = True,
    fraction: float = 0.25,
    maximum: int = MAX_AUTO_BATCH,
) -> int:
    """A batch size that keeps a batch's work within ``fraction`` of the free memory.

    Memory per image is estimated from one forward pass (:func:`activation_bytes`):
    the layer outputs, times 3 when a backward pass runs (saved activations plus their
    gradients), plus 8 image-sized tensors (input, adversarial copy, perturbation,
    gradient, ...). The batch is ``fraction * available_memory(example.device)`` over
    that, clamped to ``[1, maximum]``.

    Args:
        model: the classifier (left as found).
        example: images ``(B, C, H, W)`` like those to be batched (only the first is used),
            on the device the work runs on.
        backward: whether the work differentiates through the model (attacks, gradients).
        fraction: share of the free memory one batch may use.
        maximum: upper bound.

    Returns:
        The batch size, an int in ``[1, maximum]``.

    Raises:
        SpectralTypeError: ``model`` not an ``nn.Module`` or ``example`` not a tensor.
        SpectralValueError: ``example`` holds no image, or ``fraction`` outside (0, 1].

    Examples:
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
        >>> 1 <= auto_batch_size(net, torch.rand(2, 3, 2, 2)) <= 256
        True
    """
    if not isinstance(model, nn.Module):
        raise SpectralTypeError(f"model: expected an nn.Module, got {type(model).__name__}")
    if not isinstance(example, torch.Tensor):
        raise SpectralTypeError(f"example: expected a tensor, got {type(example).__name__}")
    if example.ndim < 1 or example.shape[0] < 1:
        raise SpectralValueError(
            f"example: expected at least one image, got shape {tuple(example.shape)}"
        )
    if not 0.0 < fraction <= 1.0:
        raise SpectralValueError(f"fraction: expected a value in (0, 1], got {fraction!r}")
    image = example[0].numel() * example.element_size()
    factor = _BACKWARD_FACTOR if backward else _FORWARD_FACTOR
    per_image = factor * activation_bytes(model, example) + _IMAGE_COPIES * image
    budget = fraction * available_memory(example.device)
    return int(max(1, min(maximum, budget // max(per_image, 1))))


def resolve_batch_size(
    batch_size: int | None,
    model: nn.Module,
    images: torch.Tensor,
    *,
    backward: bool,
    maximum: int = MAX_AUTO_BATCH,
) -> int:
    """``batch_size`` checked (an int >= 1), or :func:`auto_batch_size` for None.

    ``maximum`` caps the automatic size (a caller that knows larger batches are slower).

    Raises:
        SpectralTypeError: not an int or None.
        SpectralValueError: below 1.
    """
    if batch_size is not None:
        return check_batch_size(batch_size)
    if images.shape[0] == 0:
        return 1
    return auto_batch_size(model, images, backward=backward, maximum=maximum)


def batched_logits(model: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """``model(x)`` in eval mode without gradients, ``batch_size`` images at a time."""
    out = []
    with model_left_as_found(model), torch.no_grad():
        set_eval(model)
        for start in range(0, x.shape[0], batch_size):
            out.append(model_logits(model, x[start : start + batch_size]))
    return torch.cat(out)


def attack_in_batches(
    attack: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Run ``attack(xb, yb)`` on consecutive batches and concatenate what it returns.

    A seeded :func:`spectral.make_attack` attack reseeds on every call, so its random
    starts are drawn per batch: results are reproducible for a batch size, and equal
    across batch sizes only for deterministic attacks.

    Under ``torch.distributed`` with more than one rank (and outside
    :func:`spectral.distributed.local`), every rank must make the same call: each runs its
    block of whole batches (:func:`spectral.distributed.batch_blocks`, at the smallest
    batch size of the ranks) and the adversarial images are gathered back in order, so
    every rank returns what one process with that batch size would. ``progress`` then
    gets this rank's fraction done, scaled to ``n`` images.

    Under :func:`spectral.resumable`, each finished batch is kept and a rerun reuses it.

    Raises:
        SpectralValueError: the attack returns something else than images of the batch's shape.
    """
    n = x.shape[0]
    batch_size = agreed_batch_size(batch_size)
    first, stop = my_block(n, batch_size)
    out = []
    store = BatchStore("attack", *attack_key(attack))  # under resumable(): kept batches
    for start in range(first, stop, batch_size):
        xb, yb = x[start : min(start + batch_size, stop)], y[start : min(start + batch_size, stop)]
        adv = store.load(xb, yb)
        if adv is None:
            adv = attack(xb, yb)
            if not isinstance(adv, torch.Tensor) or adv.shape != xb.shape:
                got = tuple(adv.shape) if isinstance(adv, torch.Tensor) else type(adv).__name__
                raise SpectralValueError(
                    f"attack: expected adversarial images of shape {tuple(xb.shape)}, got {got}"
                )
            store.save(adv, xb, yb)
        out.append(adv.detach().to(device=x.device, dtype=x.dtype))
        if progress is not None:  # this rank's share done, as a count of all the images
            progress((min(start + batch_size, stop) - first) * n // (stop - first), n)
    part = torch.cat(out) if out else x[first:stop].clone()
    return gather_blocks(part, [b - a for a, b in batch_blocks(n, batch_size)])
