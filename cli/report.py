"""`spectral report`: the main job, run on the built-in default when given no arguments.

Sections:
1. the attack on the model (and a comparison model): accuracy, success rate, L2
   dissimilarity, input spectra natural / perturbed / difference (figure 1), radial
   profiles (figure 4), band energies per model (figure 5);
2. feature-map spectra of layer 1 and a deeper layer, clean / adversarial / perturbation
   (figures 2 and 3);
3. the BlurNet black-box table with adaptive attacks (figure 6);
   robust vs normal: 3x3 filter statistics, confidence and calibration (clean and
   adversarial), input and integrated gradients with their spectra, Fourier heat maps;
   where in the spectrum the models break: accuracy on low-/high-pass filtered images
   and under band-limited PGD (``--band-images``);
4. input spectra of the bundled photographs (BlurNet-style figure, slopes, bands);
5. the dataset-scale mean power spectrum of the analysed test images (streaming accumulator);
6. a random +-eps sign-noise baseline: the spectrum a perturbation has when it carries
   no structure, to hold adversarial perturbations against;
7. Fourier-domain adversarial detection (Harder et al. 2021), plain and adaptive PGD.
"""

from __future__ import annotations

import datetime as _dt
import time
from pathlib import Path
from typing import Annotated, Any

import rich.box
import typer
from rich.table import Table as RichTable

from cli._common import (
    AttackOpt,
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
    check_attack,
    check_eps,
    check_l2_eps,
    check_min,
    parse_formats,
    stdout,
    user_errors,
    write_json,
)
from cli._html import Section, render
from cli._inputs import (
    BatchSizeOpt,
    ClassMapOpt,
    ImageSizeOpt,
    Inputs,
    ModelDirOpt,
    NormalizeOpt,
    ResizeOpt,
    load_compared,
    scaled_heatmap_eps,
)
from cli._output import output_dir
from cli._progress import progress
from cli._report_sections import BANDS, papers_section
from cli._report_summary import definitions_section, run_info, skipped_section, summary_lines
from spectral.fourier import DEFAULT_CUTOFFS, Backend


def report(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path("spectral-report"),
    model: ModelOpt = "builtin:standard",
    weights: WeightsOpt = None,
    compare_model: Annotated[
        str,
        typer.Option(
            "--compare-model",
            help="Second model for the per-model comparison ('auto': builtin:adversarial "
            "next to builtin:standard; '' for none).",
        ),
    ] = "auto",
    compare_weights: Annotated[
        Path | None,
        typer.Option("--compare-weights", help="State dict for a module:factory --compare-model."),
    ] = None,
    data: DataOpt = "builtin",
    attack: AttackOpt = "pgd",
    eps: EpsOpt = 8 / 255,
    steps: StepsOpt = 10,
    layers: Annotated[
        str | None,
        typer.Option("--layers", help="Comma-separated layers (default: first_conv + 2nd conv)."),
    ] = None,
    n_images: Annotated[int, typer.Option("--n-images", help="Test images analysed (>= 2).")] = 256,
    blur_images: Annotated[
        int, typer.Option("--blur-images", help="Images for the blur table (0: skip it).")
    ] = 100,
    gradient_images: Annotated[
        int, typer.Option("--gradient-images", help="Images for the gradient section (0: skip).")
    ] = 64,
    heatmap_images: Annotated[
        int | None,
        typer.Option(
            "--heatmap-images",
            help="Images for the Fourier heat map (0: skip; default 100 up to 64x64 images, "
            "0 above: a map costs H*W/2 passes per image).",
        ),
    ] = None,
    band_images: Annotated[
        int,
        typer.Option(
            "--band-images",
            help="Images for the filtered-accuracy curves and band-limited PGD (0: skip).",
        ),
    ] = 40,
    heatmap_eps: Annotated[
        float | None,
        typer.Option(
            "--heatmap-eps",
            help="L2 norm of the heat map's basis perturbation (default 4 at 32 px, scaled "
            "by side/32).",
        ),
    ] = None,
    detect_images: Annotated[
        int,
        typer.Option(
            "--detect-images", help="Images for the Fourier detector, PGD only (0: skip)."
        ),
    ] = 200,
    backend: Annotated[Backend, typer.Option("--backend", help="FFT backend.")] = Backend.AUTO,
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
    """Run the whole spectral analysis (built-in default) and write report.json/.html."""
    import torch

    import spectral as sp
    from spectral.analysis import paper_comparison

    t_start = time.perf_counter()
    with user_errors(), output_dir(out, force, "report", resume=resume) as tmp:
        fmts = parse_formats(figure_format, need_png=True)
        if n_images < 2:
            raise UserError(f"--n-images: expected >= 2, got {n_images}")
        check_eps(eps)
        check_min("--steps", steps, 1)
        check_min("--blur-images", blur_images, 0)
        check_min("--gradient-images", gradient_images, 0)
        check_min("--detect-images", detect_images, 0)
        check_min("--band-images", band_images, 0)
        if heatmap_images is not None:
            check_min("--heatmap-images", heatmap_images, 0)
        if heatmap_eps is not None:
            check_l2_eps(heatmap_eps, "--heatmap-eps")
        torch.manual_seed(seed)  # before loading: a module:factory may initialise randomly
        # load and validate everything before any work: one clear line for a mistake
        from cli._report_model import default_layers, model_sections
        from spectral.models import feature_maps, is_scripted

        if compare_model == "auto":
            compare_model = "builtin:adversarial" if model == "builtin:standard" else ""
        dev, nets, x, y = load_compared(
            model=model,
            vs=compare_model,
            weights=weights,
            vs_weights=compare_weights,
            data=data,
            n_images=n_images,
            seed=seed,
            device=device,
            inputs=Inputs(normalize, model_dir, image_size, resize, class_map, batch_size),
            options=("--model", "--compare-model"),
        )
        if heatmap_images is None:
            heatmap_images = 100 if max(x.shape[-2:]) <= 64 else 0
        names = list(nets)
        net = nets[names[0]]
        other = nets[names[1]] if len(names) > 1 else None
        layer_list = (
            [v.strip() for v in layers.split(",") if v.strip()] if layers else default_layers(net)
        )
        if layer_list:  # one image through the hooks: unknown, shared or unhookable layers
            feature_maps(net, x[:1], layer_list)
        check_attack(attack, net, eps, steps)
        result: dict[str, Any] = {
            "spectral_version": sp.__version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "seed": seed,
            "device": str(dev),
            "backend": backend.value,
            "bands": list(BANDS),
            "cutoffs": list(DEFAULT_CUTOFFS),
        }
        sections: list[Section] = []
        with progress() as bar:
            figdir = tmp / "figures"
            figdir.mkdir()

            # 1-3. model, attack, feature maps, blur ------------------------------------------
            model_part, model_secs, adversarial = model_sections(
                model=net,
                model_name=names[0],
                compare=other,
                compare_name=names[1] if other is not None else None,
                x=x,
                y=y,
                attack=attack,
                eps=eps,
                steps=steps,
                layers=layer_list,
                blur_images=blur_images,
                seed=seed,
                figdir=figdir,
                formats=fmts,
                bar=bar,
                batch_size=batch_size,
            )
            result.update(model_part)
            result.update(
                {
                    "model": model,
                    "data": data,
                    "attack": attack,
                    "eps": eps,
                    "steps": steps,
                    "n_images": len(x),
                    "image_size": list(x.shape[-2:]),
                    "normalize": normalize,
                    "layers": layer_list,
                }
            )
            sections.extend(model_secs)

            # robust vs normal: filters, calibration, gradients, Fourier heat map ----------------
            from cli._report_robust import robust_sections

            robust_part, robust_secs = robust_sections(
                nets=nets,
                x=x,
                y=y,
                adversarial=adversarial,
                attack=attack,
                eps=eps,
                gradient_images=gradient_images,
                heatmap_images=heatmap_images,
                heatmap_eps=scaled_heatmap_eps(x) if heatmap_eps is None else heatmap_eps,
                seed=seed,
                figdir=figdir,
                formats=fmts,
                bar=bar,
                batch_size=batch_size,
            )
            result.update(robust_part)
            sections.extend(robust_secs)

            # where in the spectrum the models break: filtered accuracy, band-limited PGD
            from cli._report_bands import bands_section

            bands_part, bands_secs = bands_section(
                nets=nets,
                x=x,
                y=y,
                band_images=band_images,
                seed=seed,
                figdir=figdir,
                formats=fmts,
                bar=bar,
                batch_size=batch_size,
            )
            result.update(bands_part)
            sections.extend(bands_secs)

            # Fourier-domain adversarial detection (Harder et al. 2021) ---------------------
            from cli._report_detect import detect_section

            detect_part, detect_secs = detect_section(
                model=net,
                x=x,
                y=y,
                n_images=detect_images,
                eps=eps,
                steps=steps,
                seed=seed,
                figdir=figdir,
                formats=fmts,
                bar=bar,
                batch_size=batch_size,
            )
            result.update(detect_part)
            sections.extend(detect_secs)

            # references: bundled photographs, the analysed data, random sign noise ------
            from cli._report_reference import reference_sections

            ref_part, ref_secs = reference_sections(
                x=x,
                data=data,
                eps=eps,
                seed=seed,
                backend=backend,
                device=dev,
                figdir=figdir,
                formats=fmts,
                bar=bar,
            )
            result.update(ref_part)
            sections.extend(ref_secs)

            # the seeds' phenomena: ours | paper | agrees? ---------------------------------
            papers = paper_comparison(result) if len(result["models"]) >= 2 else None
            if papers is not None:
                result["papers"] = papers.to_dict()
            sections.insert(0, papers_section(papers))

            # readable and citable: definitions, skipped sections, command and versions ----
            skipped = [
                (title, option)
                for title, option, off in (
                    ("BlurNet blur table", "--blur-images N (N > 0)", blur_images == 0),
                    ("Input gradients", "--gradient-images N (N > 0)", gradient_images == 0),
                    ("Fourier heat maps", "--heatmap-images N (N > 0)", heatmap_images == 0),
                    ("Fourier detector", "--detect-images N (N > 0)", detect_images == 0),
                    ("Where the models break", "--band-images N (N > 0)", band_images == 0),
                    (
                        "Second model and the papers' claims",
                        "--compare-model MODEL",
                        len(result["models"]) < 2,
                    ),
                    (
                        "Feature-map spectra",
                        "a model that can be hooked: 'package.module:factory' with --weights",
                        not layer_list and is_scripted(net),
                    ),
                    (
                        "3x3 filter statistics",
                        "a model with 3x3 convolutions",
                        not result.get("filters"),
                    ),
                )
                if off
            ]
            result["skipped"] = [{"section": t, "enable_with": o} for t, o in skipped]
            result.update(run_info(ctx))
            from spectral.distributed import describe

            # under torchrun the gradient, heat-map and band passes are sharded by images,
            # the attacks by whole batches (their random starts are drawn per batch)
            result.update(describe("images", "batches"))
            sections.append(definitions_section(DEFAULT_CUTOFFS))
            skipped_sec = skipped_section(skipped)
            if skipped_sec is not None:
                sections.append(skipped_sec)
            result["elapsed_s"] = round(time.perf_counter() - t_start, 2)
            write_json(tmp / "report.json", result)
            meta = {
                k: result[k]
                for k in ("command", "spectral_version", "created", "data", "seed", "device")
            }
            meta["versions"] = ", ".join(f"{k} {v}" for k, v in result["versions"].items())
            (tmp / "report.html").write_text(
                render("spectral report", meta, sections, summary=summary_lines(result)),
                encoding="utf-8",
            )

    print_summary(result, out)


def print_summary(result: dict[str, Any], out: Path) -> None:
    """The terminal summary: one row per model and the noise baseline."""
    from cli._report_model import PROPORTIONS

    def short(d: dict[str, Any]) -> str:
        lo, hi = d["ci95"]
        return f"{100 * d['estimate']:.1f} [{100 * lo:.0f}-{100 * hi:.0f}]"

    n = next(iter(result["models"].values()))["n_images"]
    table = RichTable(
        title=f"spectral report -> {out}\n(%, with 95% intervals; n = {n} images; "
        "perturbation energy % low/mid/high)",
        box=rich.box.SIMPLE,
        pad_edge=False,
    )
    width = max(len(name) for name in [*result["models"], "random sign noise"])
    for col in ("model", "clean acc.", "adv. acc.", "success", "pert. %"):
        table.add_column(
            col, justify="left" if col == "model" else "right", no_wrap=True, min_width=5
        )
    table.columns[0].min_width = width

    def bands(v: list[float | None]) -> str:
        return "/".join("–" if b is None else f"{100 * b:.0f}" for b in v)

    for name, v in result["models"].items():
        cells = (short(v["intervals"][k]) for k in PROPORTIONS)
        table.add_row(name, *cells, bands(v["band_energy"]["perturbation"]))
    noise = result["noise_baseline"]["band_energy"]["perturbation"]
    table.add_row("random sign noise", "", "", "", bands(noise))
    stdout.print(table)
    stdout.print(f"wrote {out}/report.json, report.html, figures/ in {result['elapsed_s']} s")
