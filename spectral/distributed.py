"""Runs sharded over ``torch.distributed`` (launched with ``torchrun``).

The analyses that loop over images (:func:`spectral.fourier_heatmap`,
:func:`spectral.analysis.gradient_spectra`, :func:`spectral.analysis.filtered_accuracy`,
:func:`spectral.analysis.band_attack_analysis` and what builds on them) look at the
default process group: when one is initialised with more than one rank, each rank takes a
disjoint, deterministic shard of the images (:func:`shard`: contiguous blocks in image
order, as ``numpy.array_split`` cuts them), and the per-rank results are combined with
collectives: counts are summed (:func:`all_reduce_sum`, exact), per-image tensors are
gathered back into image order (:func:`gather_rows`). Every rank returns the whole
result. Random streams are keyed by image (and frequency), never by rank, so a sharded
run equals a one-process run with the same seed: counts exactly, floating-point results
to round-off (a batch of another size may sum in another order).

Attacks are sharded by whole batches instead (:func:`batch_blocks`, used by
``attack_in_batches`` and the PGD/APGD evaluations): a seeded attack draws its random start
per batch, so each rank runs a contiguous block of the very batches a one-process run
would (the batch size is agreed as the smallest over ranks), and the adversarial images
are gathered back in order. The result is then that of one process with the same batch
size, bit for bit on the same kind of machine and thread count. Code that already works
on its own shard runs its attacks inside :func:`local`.

:func:`init_from_env` starts the group the way ``torchrun`` expects (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT`` in the environment):
backend ``gloo`` on the CPU, ``nccl`` on CUDA with one GPU per rank (``cuda:LOCAL_RANK``).
The ``spectral`` command calls it itself, so ``torchrun --nproc-per-node N -m cli.main
heatmap ...`` needs nothing else; library users call it (or
``torch.distributed.init_process_group``) before the analysis.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from spectral.errors import SpectralValueError

__all__ = [
    "BATCH_SHARDING",
    "agreed_batch_size",
    "all_gather_objects",
    "all_reduce_max",
    "all_reduce_min",
    "all_reduce_sum",
    "batch_blocks",
    "describe",
    "gather_blocks",
    "gather_rows",
    "image_block",
    "init_from_env",
    "is_main",
    "launched",
    "local",
    "my_block",
    "rank_and_size",
    "shard",
    "shard_of",
    "shutdown",
    "summed_fractions",
]

#: How :func:`shard` cuts the images; recorded in the outputs as ``"sharding"``.
SHARDING = "contiguous blocks of the images in order, one per rank (numpy.array_split)"

#: How :func:`batch_blocks` cuts an attack's images; named in the README and docstrings.
BATCH_SHARDING = (
    "attacks: contiguous blocks of whole batches in order, one per rank (numpy.array_split "
    "of the batches), at the smallest batch size of the ranks"
)

_LOCAL: ContextVar[bool] = ContextVar("spectral_distributed_local", default=False)


def launched() -> bool:
    """Whether the process was started by ``torchrun`` (or another launcher) with > 1 rank."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1
    except ValueError:
        return False


def rank_and_size() -> tuple[int, int]:
    """``(rank, world_size)`` of the default group; ``(0, 1)`` when none is initialised.

    Examples:
        >>> rank_and_size()
        (0, 1)
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


@contextmanager
def local() -> Iterator[None]:
    """Inside, attacks run on all the images they are given, as in one process.

    For code that has already taken its rank's shard (:func:`shard_of`) and must not have
    its attacks sharded again.
    """
    token = _LOCAL.set(True)
    try:
        yield
    finally:
        _LOCAL.reset(token)


def _attack_group() -> tuple[int, int]:
    """``(rank, world_size)`` for batch sharding: ``(0, 1)`` inside :func:`local`."""
    return (0, 1) if _LOCAL.get() else rank_and_size()


def is_main() -> bool:
    """True on rank 0 (and in a process that is not part of a group)."""
    return rank_and_size()[0] == 0


def describe(*cut: str) -> dict[str, Any]:
    """``{"world_size": N, "sharding": ...}`` for an output's JSON.

    Args:
        cut: what the run shards: ``"images"`` (:func:`shard`, the default) and/or
            ``"batches"`` (the attacks, :func:`batch_blocks`).

    Examples:
        >>> describe()["world_size"]
        1
    """
    _, size = rank_and_size()
    if size == 1:
        return {"world_size": 1, "sharding": "none (one process)"}
    how = {"images": SHARDING, "batches": BATCH_SHARDING}
    return {"world_size": size, "sharding": "; ".join(how[c] for c in cut or ("images",))}


def shard(n: int, what: str = "images", *, allow_empty: bool = False) -> np.ndarray:
    """Indices (into ``range(n)``) of this rank's share: a contiguous block.

    Blocks are those of ``numpy.array_split(range(n), world_size)``: the first
    ``n % world_size`` ranks get one item more. With no group, all of ``range(n)``.

    Args:
        n: number of items.
        what: their name, for the error message.
        allow_empty: give a rank beyond the ``n``-th no items instead of refusing.

    Returns:
        int64 indices, sorted.

    Raises:
        SpectralValueError: more ranks than items (a rank would have nothing to do).

    Examples:
        >>> shard(5).tolist()
        [0, 1, 2, 3, 4]
    """
    rank, size = rank_and_size()
    if size > n and not allow_empty:
        raise SpectralValueError(
            f"{size} processes were launched but there are only {n} {what}; "
            f"launch at most {n} (torchrun --nproc-per-node / --nnodes)"
        )
    return np.array_split(np.arange(n, dtype=np.int64), size)[rank]


def image_block(n: int) -> tuple[int, int]:
    """This rank's :func:`shard` of ``n`` images as ``(start, stop)``; ``(0, 0)`` if it has none.

    Examples:
        >>> image_block(5)
        (0, 5)
    """
    mine = shard(n, allow_empty=True)
    return (int(mine[0]), int(mine[-1]) + 1) if len(mine) else (0, 0)


def shard_of(
    images: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """This rank's :func:`shard` of ``images`` and ``labels``, with its indices.

    Args:
        images: ``(N, ...)``.
        labels: ``(N,)``.

    Returns:
        ``(indices, images[indices], labels[indices])``, the indices an int64 tensor on
        ``images``' device.

    Raises:
        SpectralValueError: more ranks than images.

    Examples:
        >>> idx, x, y = shard_of(torch.zeros(3, 2), torch.arange(3))
        >>> idx.tolist(), y.tolist()
        ([0, 1, 2], [0, 1, 2])
    """
    idx = torch.from_numpy(shard(len(images))).to(images.device)
    return idx, images.index_select(0, idx), labels.index_select(0, idx.to(labels.device))


def agreed_batch_size(batch_size: int) -> int:
    """The smallest ``batch_size`` of all ranks (each may size its own from free memory).

    Examples:
        >>> agreed_batch_size(64)
        64
    """
    if _attack_group()[1] == 1:
        return batch_size
    return int(all_reduce_min(torch.tensor([batch_size], dtype=torch.int64))[0])


def batch_blocks(n: int, batch_size: int) -> list[tuple[int, int]]:
    """Every rank's ``(start, stop)`` of ``n`` images cut into batches of ``batch_size``.

    The ``ceil(n / batch_size)`` batches are split into contiguous blocks, one per rank,
    as ``numpy.array_split`` cuts them, so every rank runs whole batches that a
    one-process run would run too. A rank left without a batch gets ``(n, n)``. With no
    group (or inside :func:`local`): ``[(0, n)]``.

    Examples:
        >>> batch_blocks(10, 4)
        [(0, 10)]
    """
    _, size = _attack_group()
    if size == 1:
        return [(0, n)]
    n_batches = -(-n // batch_size)
    blocks = []
    for part in np.array_split(np.arange(n_batches), size):
        if len(part):
            blocks.append((int(part[0]) * batch_size, min(n, (int(part[-1]) + 1) * batch_size)))
        else:
            blocks.append((n, n))
    return blocks


def my_block(n: int, batch_size: int) -> tuple[int, int]:
    """This rank's ``(start, stop)`` of :func:`batch_blocks`."""
    return batch_blocks(n, batch_size)[_attack_group()[0]]


def summed_fractions(counts: list[int], n: int) -> list[float]:
    """Per-rank counts summed over all ranks (exactly, as int64), each divided by ``n``.

    Examples:
        >>> summed_fractions([1, 3], 4)
        [0.25, 0.75]
    """
    total = all_reduce_sum(torch.tensor(counts, dtype=torch.int64))
    return (total.double() / n).tolist()


def _comm_device(t: torch.Tensor) -> torch.device:
    """Where a collective must run: the rank's GPU under NCCL, the CPU under gloo."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _all_reduce(t: torch.Tensor, op: Any) -> torch.Tensor:
    """``t`` reduced with ``op`` over all ranks, as a new tensor on ``t``'s device."""
    if rank_and_size()[1] == 1:
        return t.clone()
    buf = t.detach().to(_comm_device(t)).contiguous().clone()
    dist.all_reduce(buf, op=op)
    return buf.to(t.device)


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """The element-wise sum of ``t`` over all ranks (``t`` itself with no group).

    Integer tensors sum exactly; that is what counts (errors, correct predictions) use.

    Args:
        t: the same shape and dtype on every rank.

    Returns:
        A new tensor on ``t``'s device.
    """
    return _all_reduce(t, dist.ReduceOp.SUM)


def all_reduce_min(t: torch.Tensor) -> torch.Tensor:
    """The element-wise minimum of ``t`` over all ranks (``t`` itself with no group)."""
    return _all_reduce(t, dist.ReduceOp.MIN)


def all_reduce_max(t: torch.Tensor) -> torch.Tensor:
    """The element-wise maximum of ``t`` over all ranks (``t`` itself with no group).

    Args:
        t: the same shape and dtype on every rank.

    Returns:
        A new tensor on ``t``'s device.
    """
    return _all_reduce(t, dist.ReduceOp.MAX)


def all_gather_objects(obj: Any) -> list[Any]:
    """Every rank's picklable ``obj``, in rank order (``[obj]`` with no group).

    Tensors in ``obj`` should be on the CPU: they are unpickled on every rank as they are.
    """
    _, size = rank_and_size()
    if size == 1:
        return [obj]
    out: list[Any] = [None] * size
    dist.all_gather_object(out, obj)
    return out


def gather_rows(part: torch.Tensor, n: int) -> torch.Tensor:
    """Put each rank's rows (its :func:`shard` of ``n``) back together in order.

    Args:
        part: this rank's rows, ``(len(shard(n)), ...)``, the same trailing shape and
            dtype on every rank.
        n: the total number of rows.

    Returns:
        ``(n, ...)`` on ``part``'s device, equal on every rank.
    """
    _, size = rank_and_size()
    if size == 1:
        return part
    return gather_blocks(part, [len(s) for s in np.array_split(np.arange(n), size)])


def gather_blocks(part: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    """Concatenate every rank's ``part`` in rank order; rank ``r`` holds ``sizes[r]`` rows.

    Args:
        part: this rank's rows, the same trailing shape and dtype on every rank.
        sizes: rows per rank (0 for a rank without any).

    Returns:
        ``(sum(sizes), ...)`` on ``part``'s device, equal on every rank.
    """
    if len(sizes) == 1:
        return part
    longest = max(max(sizes), 1)
    dev = _comm_device(part)
    pad = torch.zeros((longest, *part.shape[1:]), dtype=part.dtype, device=dev)
    pad[: part.shape[0]] = part.detach().to(dev)
    bufs = [torch.empty_like(pad) for _ in sizes]
    dist.all_gather(bufs, pad)
    return torch.cat([b[:k] for b, k in zip(bufs, sizes, strict=True)]).to(part.device)


def init_from_env(device: str | torch.device = "cpu") -> torch.device:
    """Join the group ``torchrun`` set up; return this rank's device.

    Does nothing (and returns ``device``) when the process was not launched with more
    than one rank or the group already exists.

    Args:
        device: ``"cpu"`` (backend gloo) or ``"cuda"`` (backend nccl, one GPU per rank:
            ``cuda:LOCAL_RANK``; a ``cuda:N`` index is replaced by ``LOCAL_RANK``).

    Returns:
        The device this rank computes on.

    Raises:
        SpectralValueError: CUDA asked for without a GPU, or fewer GPUs on the node than
            ranks on it.
    """
    dev = torch.device(device)
    if not launched():
        return dev
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise SpectralValueError(
                "device: CUDA was asked for but no GPU is visible; launch with --device cpu"
            )
        if local >= torch.cuda.device_count():
            raise SpectralValueError(
                f"device: local rank {local} needs a GPU of its own but the node has "
                f"{torch.cuda.device_count()}; launch at most that many processes per node"
            )
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return dev


def shutdown() -> None:
    """Leave the group (if this process joined one)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
