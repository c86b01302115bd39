"""torchattacks attacks that leave the model, the RNG and the input's device as found."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torchattacks.attack import Attack

from spectral._internal.modelstate import model_left_as_found, set_eval
from spectral._internal.validate import check_images


@contextlib.contextmanager
def _seeded(seed: int | None) -> Iterator[None]:
    """Seed the global torch RNGs for the block and restore their state afterwards."""
    if seed is None:
        yield
        return
    devices: list[int] = []
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        devices = list(range(torch.cuda.device_count()))
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


class _LeftAsFound(Attack):
    """torchattacks ``Attack`` whose call leaves model, RNG and input device as found.

    torchattacks switches the model to ``eval`` and back by the top-level flag only (and
    not at all on an exception), lets attacks that call ``backward()`` fill the
    parameters' ``.grad``, and draws random starts from (or reseeds) the global RNG.
    """

    _spectral_seed: int | None = None

    def __call__(self, inputs: torch.Tensor, labels: Any = None, *args: Any, **kwargs: Any) -> Any:
        check_images(inputs, "images", unit_range=True)
        if self.device is None:
            self.set_device(inputs.device)
        with model_left_as_found(self.model), _seeded(self._spectral_seed):
            adv = super().__call__(inputs, labels, *args, **kwargs)
        return adv.detach().to(inputs.device)

    def _change_model_mode(self, given_training: bool) -> None:
        # torchattacks calls model.eval(), which a torch.export module refuses
        if self._model_training:
            super()._change_model_mode(given_training)
        else:
            set_eval(self.model)

    def _recover_model_mode(self, given_training: bool) -> None:
        pass  # model_left_as_found restores every module's flag (the exported one's too)


_WRAPPED: dict[type, type] = {}


def _left_as_found_class(cls: type) -> type:
    """Subclass of the torchattacks class ``cls`` with :class:`_LeftAsFound`'s call."""
    sub = _WRAPPED.get(cls)
    if sub is None:
        sub = type(
            cls.__name__,
            (_LeftAsFound, cls),
            {
                "__module__": __name__,
                "__qualname__": cls.__name__,
                "__doc__": f"torchattacks.{cls.__name__} leaving model and RNG as found.",
            },
        )
        _WRAPPED[cls] = sub
    return sub
