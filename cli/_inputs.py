"""The model-and-data options every analysing command shares, and their checks.

``--normalize`` (put the model's input normalisation in front of it), ``--model-dir``
(RobustBench checkpoints), ``--image-size``/``--resize`` (the model's input size),
``--class-map`` (which output each data class is) and ``--batch-size``; then
:func:`load_compared` loads the models and test images and checks, before any long work,
that they fit: size (naming both sizes and the option), channels, logits, classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from cli._common import UserError, load_data, load_model_option, parse_device, stderr
from spectral.errors import SpectralError

NormalizeOpt = Annotated[
    str,
    typer.Option(
        "--normalize",
        help="Input normalisation the model expects, put in front of every non-builtin model "
        "(layer names unchanged): imagenet, cifar10, none, or MEAN,MEAN,MEAN,STD,STD,STD.",
    ),
]
ModelDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--model-dir",
        help="Local RobustBench folder (<dir>/<dataset>/<threat>/<name>.pt; nothing is "
        "downloaded). Default ./models.",
    ),
]
ImageSizeOpt = Annotated[
    str | None,
    typer.Option(
        "--image-size", help="Resize the data to the model's input size: N (square) or H,W."
    ),
]
ResizeOpt = Annotated[
    str,
    typer.Option(
        "--resize",
        help="How --image-size resizes: resize (antialiased, whole image) or crop (shorter "
        "side to the size, then the centre).",
    ),
]
ClassMapOpt = Annotated[
    str | None,
    typer.Option(
        "--class-map",
        help="Which model output each data class is: data_class=output (index or class "
        "name), comma-separated. Default: match by name, refuse a mismatch.",
    ),
]
BatchSizeOpt = Annotated[
    int | None,
    typer.Option("--batch-size", help="Images per attack/gradient batch (default: from memory)."),
]

#: Input sizes tried when a model refuses the data's size, to name the one it takes.
PROBE_SIZES = (224, 32, 256, 299, 384, 288, 64, 96, 128, 28, 160, 192, 512)


@dataclass(frozen=True)
class Inputs:
    """The shared model/data options of one command line (see the module docstring)."""

    normalize: str = "none"
    model_dir: Path | None = None
    image_size: str | None = None
    resize: str = "resize"
    class_map: str | None = None
    batch_size: int | None = None

    def size(self) -> tuple[int, int] | None:
        """``--image-size`` as ``(H, W)``, or None; one line for a bad value."""
        if self.image_size is None:
            return None
        parts = [p.strip() for p in self.image_size.replace("x", ",").split(",") if p.strip()]
        try:
            vals = [int(p) for p in parts]
        except ValueError:
            vals = []
        if len(vals) not in (1, 2) or min(vals, default=0) < 1:
            raise UserError(
                f"--image-size: expected N or H,W (pixels >= 1), got {self.image_size!r}"
            )
        return (vals[0], vals[-1])

    def check(self) -> None:
        """Validate the options that need no file (one line each)."""
        from spectral.models import parse_normalization

        try:
            parse_normalization(self.normalize)
        except SpectralError as err:
            raise UserError(f"--normalize: {str(err).removeprefix('normalize: ')}") from None
        if self.resize not in ("resize", "crop"):
            raise UserError(f"--resize: expected resize or crop, got {self.resize!r}")
        if self.batch_size is not None and self.batch_size < 1:
            raise UserError(f"--batch-size: expected >= 1, got {self.batch_size}")
        self.size()


def scaled_sizes(side: int, base: tuple[int, ...] = (3, 5)) -> list[int]:
    """The default blur sizes (3, 5 at 32 px) scaled to an image side, kept odd.

    The same kernel covers the same fraction of the image, so it removes the same band
    in cycles/pixel of the 32-pixel image's content: 3, 5 at 32 px are 21, 35 at 224 px.
    """
    return sorted({max(3, 2 * round(k * side / 32 / 2 - 0.5) + 1) for k in base})


def blur_positions(model: Any) -> tuple[str, ...]:
    """Where the blur table blurs: the input and the first conv's output.

    Only the input for a model whose layers cannot be edited (TorchScript, torch.export).
    """
    from spectral.models import is_exported, is_scripted

    return ("input",) if is_scripted(model) or is_exported(model) else ("input", "first_conv")


def scaled_heatmap_eps(x: Any, base: float = 4.0) -> float:
    """The heat map's L2 norm for these images: Yin et al.'s 4 at 32x32, times side/32.

    A Fourier basis image of L2 norm ``eps`` has per-pixel RMS ``eps / sqrt(H W)``;
    scaling ``eps`` with the side keeps that amplitude (28 at 224x224).
    """
    h, w = (int(v) for v in tuple(x.shape)[-2:])
    return base * (h * w) ** 0.5 / 32


def load_net(spec: str, option: str, dev: Any, weights: Path | None, inputs: Inputs) -> Any:
    """Load one model (``option`` names it in errors), normalising its input if asked.

    Built-in models normalise inside and are left alone.
    """
    from spectral.models import with_normalization

    net = load_model_option(spec, option, dev, weights, model_dir=inputs.model_dir)
    if inputs.normalize.strip().lower() == "none":
        return net
    if spec.startswith("builtin:"):
        stderr.print(
            f"note: {spec} normalises its input itself; --normalize is not applied to it",
            soft_wrap=True,
        )
        return net
    try:
        return with_normalization(net, inputs.normalize)
    except SpectralError as err:
        raise UserError(f"--normalize: {str(err).splitlines()[0]}") from None


def load_nets(
    model: str,
    vs: str,
    weights: Path | None,
    dev: Any,
    inputs: Inputs,
    vs_weights: Path | None = None,
    *,
    options: tuple[str, str] = ("--model", "--vs"),
) -> dict[str, Any]:
    """``{name: net}`` for ``--model`` and ``--vs`` (left out when empty or identical).

    Two entries with the same spec but different weights are named ``spec [file]``.
    """
    entries = [(model, weights, options[0])]
    if vs and (vs, vs_weights) != (model, weights):
        entries.append((vs, vs_weights, options[1]))
    same_spec = len(entries) == 2 and vs == model
    nets: dict[str, Any] = {}
    for spec, w, option in entries:
        name = f"{spec} [{w.name if w else 'no weights'}]" if same_spec else spec
        nets[name if name not in nets else f"{name} ({option})"] = load_net(
            spec, option, dev, w, inputs
        )
    return nets


def load_test(data: str, n_images: int | None, seed: int, inputs: Inputs) -> Any:
    """``n_images`` test images of ``--data`` (seeded, class-balanced), resized if asked.

    Read lazily: only the chosen images are decoded, so ``--n-images`` bounds memory.
    """
    try:
        return load_data(
            data,
            "test",
            seed=seed,
            n_images=n_images,
            image_size=inputs.size(),
            resize=inputs.resize,
        )
    except SpectralError as err:
        message = str(err).splitlines()[0]
        if "image size (image_size)" in message:
            message = message.replace("an image size (image_size)", "--image-size")
            raise UserError(f"--data {message}") from None
        raise


def model_classes(spec: str, net: Any, n_outputs: int) -> tuple[str, ...] | None:
    """The names of a model's outputs where known, else None.

    Built-in and RobustBench CIFAR-10 models have CIFAR-10's; other models may carry a
    ``classes`` attribute of the right length.
    """
    from spectral.data import CIFAR10_CLASSES

    if spec.startswith(("builtin:", "robustbench:cifar10/")) and n_outputs == 10:
        return tuple(CIFAR10_CLASSES)
    own = getattr(net, "classes", None)
    if isinstance(own, list | tuple) and len(own) == n_outputs:
        return tuple(str(c) for c in own)
    return None


def _size_hint(net: Any, x: Any) -> str:
    """A hint naming the input size the model takes (of :data:`PROBE_SIZES`).

    ``"; the model runs on 224x224 images: pass --image-size 224"``, or ``""`` when no
    probe size works (then the size is not the problem, or not one we can name).
    """
    import torch

    h, w = x.shape[-2:]
    for s in PROBE_SIZES:
        if (s, s) == (h, w):
            continue
        try:
            with torch.no_grad():
                out = net(torch.rand(1, x.shape[1], s, s, device=x.device))
        except Exception:
            continue
        if isinstance(out, torch.Tensor) and out.ndim == 2:
            return f"; the model runs on {s}x{s} images: pass --image-size {s}"
    return ""


def check_fit(nets: dict[str, Any], x: Any) -> dict[str, int]:
    """Run each model on two images: refuse (one line) a model that does not fit the data.

    Catches a wrong number of input channels or image size (naming both sizes and
    ``--image-size``), and outputs that are not ``(B, K)`` logits.

    Returns:
        ``{name: number of outputs}``.
    """
    import torch

    from spectral.models import Normalize

    shape = tuple(x.shape[1:])
    outputs: dict[str, int] = {}
    for name, net in nets.items():
        for m in net.modules():  # a per-channel Normalize would broadcast 1 channel to 3
            if isinstance(m, Normalize) and m.mean.shape[1] != shape[0]:
                raise UserError(
                    f"{name}: expects {m.mean.shape[1]}-channel images, the data has {shape[0]}"
                )
        try:
            with torch.no_grad():  # loaded models are in eval mode already
                out = net(x[:2])
        except (RuntimeError, ValueError, TypeError, IndexError, AssertionError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            hint = _size_hint(net, x)
            raise UserError(
                f"{name}: does not run on the data's {shape[1]}x{shape[2]} images with "
                f"{shape[0]} channels ({first}){hint}"
            ) from None
        if not isinstance(out, torch.Tensor) or out.ndim != 2:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise UserError(f"{name}: expected (batch, classes) logits, got {got}")
        outputs[name] = int(out.shape[1])
    return outputs


def match_data(test: Any, nets: dict[str, Any], n_outputs: dict[str, int], inputs: Inputs) -> Any:
    """The test set relabelled to the models' outputs (:func:`spectral.data.match_classes`).

    Every model must agree with the data the same way; a mismatch is one line that says
    to pass ``--class-map``. A match that had to be assumed is said on stderr.
    """
    from spectral.data import match_classes, parse_class_map

    try:
        cmap = parse_class_map(inputs.class_map) if inputs.class_map else None
    except SpectralError as err:
        raise UserError(f"--class-map: {str(err).removeprefix('class_map: ')}") from None
    matches = {}
    for name, net in nets.items():
        spec = name.split(" [")[0]
        try:
            matches[name] = match_classes(
                test.classes,
                n_outputs[name],
                model_classes=model_classes(spec, net, n_outputs[name]),
                class_map=cmap,
            )
        except SpectralError as err:
            msg = str(err).splitlines()[0]
            msg = msg.replace("with a class map", "with --class-map").replace(
                "a class map", "--class-map"
            )
            prefix = "--class-map: " if msg.startswith("class_map: ") else f"{name}: "
            rest = msg.removeprefix("class_map: ").removeprefix("classes: ")
            raise UserError(prefix + rest) from None
    first = next(iter(matches.values()))
    if any(m.targets != first.targets for m in matches.values()):
        raise UserError("the models map the data's classes to different outputs; pass --class-map")
    if first.how == "assumed":
        shown = ", ".join(test.classes[:4]) + (", ..." if len(test.classes) > 4 else "")
        stderr.print(
            f"note: the models have no class names; the data's classes ({shown}) are taken "
            f"as outputs 0-{len(test.classes) - 1} (say otherwise with --class-map)",
            soft_wrap=True,
        )
    return first.apply(test) if first.how != "identical" else test


def warn_near_chance(nets: dict[str, Any], x: Any, y: Any, n_outputs: dict[str, int]) -> None:
    """Say on stderr when a model's clean accuracy is near chance; suggest ``--normalize``.

    Measured on up to 128 of the images; said when at most twice the chance rate.
    """
    import torch

    n = min(len(x), 128)
    if n < 20:
        return
    for name, net in nets.items():
        with torch.no_grad():
            pred = torch.cat([net(x[i : i + 32]).argmax(1) for i in range(0, n, 32)])
        acc = float((pred == y[:n]).float().mean())
        chance = 1.0 / max(n_outputs[name], 1)
        if acc <= 2.0 * chance and n_outputs[name] > 2:
            stderr.print(
                f"warning: {name}: clean accuracy {acc:.1%} on {n} images is near chance "
                f"({chance:.1%}); if the model expects normalised input, pass --normalize "
                "(imagenet, cifar10 or MEAN,STD)",
                soft_wrap=True,
            )


def prepare(
    nets: dict[str, Any], data: str, n_images: int | None, seed: int, dev: Any, inputs: Inputs
) -> tuple[Any, Any, Any]:
    """Load the test images for ``nets`` and check they fit: ``(test set, x, y)``."""
    test = load_test(data, n_images, seed, inputs)
    x = test.images.to(dev)
    n_outputs = check_fit(nets, x)
    test = match_data(test, nets, n_outputs, inputs)
    y = test.labels.to(dev)
    warn_near_chance(nets, x, y, n_outputs)
    return test, x, y


def load_compared(
    *,
    model: str,
    vs: str,
    weights: Path | None,
    vs_weights: Path | None,
    data: str,
    n_images: int,
    seed: int,
    device: str,
    inputs: Inputs,
    options: tuple[str, str] = ("--model", "--vs"),
) -> tuple[Any, dict[str, Any], Any, Any]:
    """The shared start of the two-model commands: ``(device, nets, images, labels)``.

    Validates ``--device`` and the shared options, loads the two models (``options``
    name them in errors), takes ``n_images`` test images of ``--data`` and checks that
    both models run on them. (``--out`` is claimed before, by :func:`output_dir`.)
    """
    inputs.check()
    dev = parse_device(device)
    nets = load_nets(model, vs, weights, dev, inputs, vs_weights, options=options)
    _, x, y = prepare(nets, data, n_images, seed, dev, inputs)
    return dev, nets, x, y
