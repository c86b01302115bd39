"""`spectral detect`: Fourier-domain adversarial detection (Harder et al. 2021).

Fits the detector per attack and feature on one split of the correctly classified
images, measures it on the held-out split (detect.json, detect.md, ROC curves), and
against a PGD that knows it. ``--save`` writes one fitted detector as JSON;
``--load`` with ``--screen DATA`` flags the images of DATA instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cli._common import (
    DataOpt,
    DeviceOpt,
    EpsOpt,
    ForceOpt,
    FormatOpt,
    ModelOpt,
    ResumeOpt,
    SeedOpt,
    StepsOpt,
    UserError,
    WeightsOpt,
    check_eps,
    check_min,
    figure_names,
    parse_device,
    parse_formats,
    stdout,
    user_errors,
    write_json,
)
from cli._inputs import (
    BatchSizeOpt,
    ClassMapOpt,
    ImageSizeOpt,
    Inputs,
    ModelDirOpt,
    NormalizeOpt,
    ResizeOpt,
    load_compared,
    load_nets,
    load_test,
)
from cli._output import output_dir
from cli._progress import count_task, progress
from cli._report_detect import adaptive_rows, detect_markdown, detect_rows
from spectral.errors import SpectralError


def _names(text: str, option: str) -> list[str]:
    names = [v.strip() for v in text.split(",") if v.strip()]
    if not names:
        raise UserError(f"{option}: expected at least one name, got {text!r}")
    return names


def _checked(parse: Any, name: str, option: str) -> str:
    """``name`` if ``parse`` accepts it, else one line naming ``option``."""
    try:
        return str(parse(name).value)
    except SpectralError as err:
        first = str(err).splitlines()[0]  # "<parameter>: ...": the option replaces the name
        raise UserError(f"{option}: {first.split(': ', 1)[-1]}") from None


def detect(
    model: ModelOpt = "builtin:standard",
    weights: WeightsOpt = None,
    data: DataOpt = "builtin",
    attacks: Annotated[
        str, typer.Option("--attacks", help="Comma-separated attacks (make_attack names).")
    ] = "fgsm,pgd,cw,deepfool",
    features: Annotated[
        str,
        typer.Option("--features", help="Comma-separated: InputMFS, InputPFS, LayerMFS, LayerPFS."),
    ] = "InputMFS,LayerMFS",
    layers: Annotated[
        str | None,
        typer.Option("--layers", help="Comma-separated layers for Layer* (default: last conv)."),
    ] = None,
    eps: EpsOpt = 8 / 255,
    steps: StepsOpt = 10,
    test_fraction: Annotated[
        float, typer.Option("--test-fraction", help="Held-out share of the correct images.")
    ] = 0.3,
    adaptive_steps: Annotated[
        int,
        typer.Option("--adaptive-steps", help="Steps of the detector-aware PGD (0: skip it)."),
    ] = 20,
    save: Annotated[
        Path | None,
        typer.Option(
            "--save", help="Write the detector of the first --attacks and --features (JSON)."
        ),
    ] = None,
    load: Annotated[
        Path | None,
        typer.Option("--load", exists=True, dir_okay=False, help="A detector from --save."),
    ] = None,
    screen: Annotated[
        str | None,
        typer.Option("--screen", help="With --load: flag the images of this data spec."),
    ] = None,
    n_images: Annotated[int, typer.Option("--n-images", help="Test images.")] = 500,
    out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path("spectral-detect"),
    seed: SeedOpt = 0,
    device: DeviceOpt = "cpu",
    normalize: NormalizeOpt = "none",
    model_dir: ModelDirOpt = None,
    image_size: ImageSizeOpt = None,
    resize: ResizeOpt = "resize",
    class_map: ClassMapOpt = None,
    batch_size: BatchSizeOpt = None,
    resume: ResumeOpt = False,
    force: ForceOpt = False,
    figure_format: FormatOpt = "png,pdf",
) -> None:
    """Fourier-domain adversarial detection: ACC/AUC/TPR/TNR per attack, and adaptive."""
    from spectral.distributed import describe

    if (load is None) != (screen is None):
        with user_errors():
            raise UserError("--screen and --load go together: --load DETECTOR --screen DATA")
    if screen is not None and load is not None:
        _screen(
            model,
            weights,
            load,
            screen,
            n_images,
            out,
            seed,
            device,
            force,
            batch_size,
            Inputs(normalize, model_dir, image_size, resize, class_map, batch_size),
        )
        return
    from spectral.analysis import detection_analysis
    from spectral.attacks import parse_attack_name
    from spectral.defenses import parse_feature
    from spectral.plot import detection_figure, save_figure

    with user_errors():
        if save is not None and save.exists() and not force:
            raise UserError(f"--save: {save} exists; pass --force to replace it")
    with user_errors(), output_dir(out, force, "detect", resume=resume) as tmp:
        fmts = parse_formats(figure_format)
        check_eps(eps)
        check_min("--steps", steps, 1)
        check_min("--n-images", n_images, 3)
        check_min("--adaptive-steps", adaptive_steps, 0)
        if not 0 < test_fraction < 1:
            raise UserError(f"--test-fraction: expected a number in (0, 1), got {test_fraction}")
        attack_names = [
            _checked(parse_attack_name, a, "--attacks") for a in _names(attacks, "--attacks")
        ]
        feature_names = [
            _checked(parse_feature, f, "--features") for f in _names(features, "--features")
        ]
        _, nets, x, y = load_compared(
            model=model, vs="", weights=weights, vs_weights=None, data=data,
            n_images=n_images, seed=seed, device=device,
            inputs=Inputs(normalize, model_dir, image_size, resize, class_map, batch_size),
        )  # fmt: skip
        net = next(iter(nets.values()))
        with progress() as bar:
            res = detection_analysis(
                net, x, y,
                attacks=attack_names,
                features=feature_names,
                layers=None if layers is None else _names(layers, "--layers"),
                eps=eps, steps=steps, test_fraction=test_fraction,
                adaptive=adaptive_steps > 0, adaptive_steps=max(1, adaptive_steps),
                seed=seed, batch_size=batch_size, progress=count_task(bar, "attacks"),
            )  # fmt: skip
        result = res.to_dict() | {"model": model, "data": data} | describe("batches")
        write_json(tmp / "detect.json", result)
        title = f"Fourier-domain adversarial detection: {model} on {data}"
        (tmp / "detect.md").write_text(detect_markdown(result, title), encoding="utf-8")
        save_figure(detection_figure(res.roc, res.results), tmp / "detect.png", formats=fmts)
        if save is not None:
            first = (res.attacks[0], res.features[0])
            if first not in res.detectors:
                raise UserError(f"--save: no detector for {'/'.join(first)} (no successful attack)")
            res.detectors[first].save(save)
    stdout.print(f"{res.n_correct} of {res.n_images} images correct; {res.n_test_images} held out")
    for row in detect_rows(result):
        stdout.print("  ".join(row), soft_wrap=True)
    for row in adaptive_rows(result):
        stdout.print("  ".join(row), soft_wrap=True)
    saved = f", {save}" if save is not None else ""
    stdout.print(f"wrote {out}/detect.json, detect.md, {figure_names('detect', fmts)}{saved}")


def _screen(
    model: str,
    weights: Path | None,
    load: Path,
    screen: str,
    n_images: int,
    out: Path,
    seed: int,
    device: str,
    force: bool,
    batch_size: int | None,
    inputs: Inputs,
) -> None:
    """``--load`` + ``--screen``: the detector's score and flag for each image of DATA."""
    from spectral.defenses import Detector

    with user_errors(), output_dir(out, force, "detect") as tmp:
        check_min("--n-images", n_images, 1)
        inputs.check()
        dev = parse_device(device)
        nets = load_nets(model, "", weights, dev, inputs)
        det = Detector.load(load, model=next(iter(nets.values())))
        images = load_test(screen, n_images, seed, inputs).images.to(dev)
        scores = det.decision_function(images, batch_size=batch_size).cpu()
        flagged = scores > 0
        write_json(
            tmp / "screen.json",
            {
                "detector": str(load),
                "feature": det.feature.value,
                "data": screen,
                "n_images": len(scores),
                "n_flagged": int(flagged.sum()),
                "scores": [float(s) for s in scores],
                "flagged": [bool(f) for f in flagged],
            },
        )
    stdout.print(
        f"{int(flagged.sum())} of {len(scores)} images flagged as adversarial; "
        f"wrote {out}/screen.json"
    )
