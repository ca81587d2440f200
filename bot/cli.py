"""`memebot run | classify | explain | memeify | export | bench | random-checkpoint | dataset | train ...`."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import DEFAULT_CHECKPOINT, Config, load_config
from bot.errors import ConfigError, StartupError
from bot.logs import setup_logging
from classifier import CheckpointError, Classifier, ClassifierError, DecodeLimits, InvalidImage
from classifier.training.commands import add_commands as add_training_commands

if TYPE_CHECKING:
    from PIL import Image

NO_DEFAULT_MODEL = """\
memebot: the default model is missing from classifier/models/default. It ships in the repository:
restore it with `git checkout -- classifier/models/default` (or reinstall memebot), or point
[classifier] checkpoint (or --checkpoint) at another safetensors checkpoint."""


def entry_point(argv: Sequence[str] | None = None) -> None:
    """The `memebot` command: main(), then an exit that skips the interpreter's teardown. Everything
    is closed and flushed by then, and tearing down torch (the CUDA build) took a second or two after
    the bot had stopped; an operator's Ctrl-C should end the process when the bot ends."""
    code = main(argv)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    config = Config()
    try:
        config = load_config(args.config)
        if getattr(args, "checkpoint", None) is not None:
            config = _with_checkpoint(config, args.checkpoint)
        setup_logging(config.log_level if args.command == "run" else "WARNING", config.secrets())
        return int(args.func(args, config) or 0)
    except ConfigError as exc:
        print(f"memebot: {exc}", file=sys.stderr)
        return 2
    except StartupError as exc:
        print(f"memebot: {exc}", file=sys.stderr)
        return 1
    except CheckpointError as exc:
        print(f"memebot: {exc}", file=sys.stderr)
        if config.classifier.checkpoint == DEFAULT_CHECKPOINT and not DEFAULT_CHECKPOINT.exists():
            print(NO_DEFAULT_MODEL, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="memebot", description="Tells memes from non-memes, in chats.")
    parser.add_argument(
        "--config", type=Path, default=None, help="TOML config file (see config.example.toml)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the bot (console chat when no token is set)")
    run.add_argument("--checkpoint", type=Path, help="model checkpoint (overrides [classifier] checkpoint)")
    run.set_defaults(func=_cmd_run)

    classify = sub.add_parser("classify", help="classify image files")
    classify.add_argument("images", nargs="+", type=Path)
    classify.add_argument("--json", action="store_true", help="one JSON object per line")
    classify.add_argument("--checkpoint", type=Path)
    classify.set_defaults(func=_cmd_classify)

    _add_imaging_commands(sub)

    export = sub.add_parser("export", help="write the corrections as a training zip")
    export.add_argument("--out", type=Path, required=True)
    export.add_argument(
        "--platform", choices=("telegram", "discord", "console"), help="only this platform's corrections"
    )
    export.add_argument("--chat", help="only this chat id (needs --platform)")
    export.set_defaults(func=_cmd_export)

    bench = sub.add_parser("bench", help="measure model and service throughput and latency")
    bench.add_argument("--out", type=Path, default=Path("bench-results/bench.json"))
    bench.add_argument("--quick", action="store_true", help="small counts, for a smoke test")
    bench.add_argument("--checkpoint", type=Path)
    bench.add_argument("--no-checkpoint", action="store_true", help="bench random weights")
    bench.set_defaults(func=_cmd_bench)

    rand = sub.add_parser(
        "random-checkpoint", help="write an UNTRAINED checkpoint (random verdicts) to test the plumbing"
    )
    rand.add_argument("--out", type=Path, required=True)
    rand.add_argument("--input-size", type=int, default=224)
    rand.set_defaults(func=_cmd_random_checkpoint)

    dataset = sub.add_parser("dataset", help="build the training dataset").add_subparsers(
        dest="dataset_command", required=True
    )
    build = dataset.add_parser("build", help="../shared/datasets -> grouped, split, normalised images")
    build.add_argument("--source", type=Path, default=Path("../shared/datasets"))
    build.add_argument("--out", type=Path, required=True)
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--size", type=int, default=128, help="longest side of every stored image")
    build.add_argument("--workers", type=int, default=1, help="render processes")
    build.add_argument("--scale", type=float, default=1.0, help="multiply every synthetic count")
    build.add_argument("--no-chromium", action="store_true", help="draw web pages with Pillow instead")
    build.set_defaults(func=_cmd_dataset_build)
    add_training_commands(sub, dataset)  # train, evaluate, quantize, dataset pack
    return parser


def _add_imaging_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    explain = sub.add_parser("explain", help="draw a Grad-CAM heatmap of what drove the verdict")
    explain.add_argument("image", type=Path)
    explain.add_argument("--out", type=Path, required=True, help="picture to write (.png or .jpg)")
    explain.add_argument("--checkpoint", type=Path)
    explain.set_defaults(func=_cmd_explain)

    memeify = sub.add_parser("memeify", help="caption a face photo as a meme that fits its expression")
    memeify.add_argument("image", type=Path)
    memeify.add_argument("--out", type=Path, required=True, help="picture to write (.png or .jpg)")
    memeify.add_argument("--seed", type=int, help="pick the same caption every time")
    memeify.set_defaults(func=_cmd_memeify)


def _with_checkpoint(config: Config, checkpoint: Path) -> Config:
    return dataclasses.replace(
        config, classifier=dataclasses.replace(config.classifier, checkpoint=checkpoint)
    )


def _cmd_run(args: argparse.Namespace, config: Config) -> int:
    from bot.app import run_bot

    asyncio.run(run_bot(config))
    return 0


def _cmd_classify(args: argparse.Namespace, config: Config) -> int:
    settings = dataclasses.replace(config.classifier, warmup=False)
    return asyncio.run(_classify_files(Classifier.from_settings(settings), args.images, as_json=args.json))


async def _classify_files(classifier: Classifier, paths: Sequence[Path], *, as_json: bool) -> int:
    async def one(path: Path) -> dict[str, object]:
        try:
            data = await asyncio.to_thread(path.read_bytes)
            verdict = await classifier.classify(data)
        except OSError as exc:
            return {"file": str(path), "error": exc.strerror or str(exc)}
        except ClassifierError as exc:
            return {"file": str(path), "error": str(exc)}
        return {
            "file": str(path),
            "label": verdict.label,
            "confidence": round(verdict.confidence, 4),
            "model_version": verdict.model_version,
            "sha256": verdict.sha256,
        }

    async with classifier:
        results = await asyncio.gather(*(one(p) for p in paths))
    for result in results:
        if as_json:
            print(json.dumps(result))
        elif "error" in result:
            print(f"{result['file']}\terror\t{result['error']}")
        else:
            print(f"{result['file']}\t{result['label']}\t{result['confidence']:.3f}")
    failed = sum("error" in r for r in results)
    if failed:
        print(f"memebot: {failed} of {len(results)} files could not be classified", file=sys.stderr)
    return 1 if failed else 0


def _cmd_explain(args: argparse.Namespace, config: Config) -> int:
    from classifier.explain import Explainer

    settings = config.classifier
    if settings.checkpoint is None:
        raise ConfigError("[classifier] checkpoint is not set; give --checkpoint")
    limits = DecodeLimits(settings.max_image_bytes, settings.max_pixels, max_frames=1)
    explainer = Explainer.from_checkpoint(settings.checkpoint, device=settings.device, limits=limits)
    try:
        explanation = explainer.explain(args.image.read_bytes())
    except (OSError, InvalidImage) as exc:
        return _refuse(args.image, exc)
    _save(explanation.picture(), args.out)
    verdict = f"{explanation.label} ({explanation.confidence:.0%})"
    print(f"wrote {args.out}: Grad-CAM for {verdict}, model {explanation.model_version}")
    return 0


def _cmd_memeify(args: argparse.Namespace, config: Config) -> int:
    import random

    from bot.errors import UserError
    from bot.memeify import Memeifier

    settings = config.classifier
    limits = DecodeLimits(settings.max_image_bytes, settings.max_pixels, max_frames=1)
    try:
        meme = Memeifier.load(limits).make(args.image.read_bytes(), random.Random(args.seed))
    except (OSError, InvalidImage, UserError) as exc:
        return _refuse(args.image, exc)
    _save(meme.image, args.out)
    print(f"wrote {args.out}: {meme.summary()} Caption: {meme.caption.top} / {meme.caption.bottom}")
    return 0


def _refuse(path: Path, exc: Exception) -> int:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    print(f"memebot: {path}: {reason}", file=sys.stderr)
    return 1


def _save(picture: Image.Image, out: Path) -> None:
    """PNG, or JPEG when `out` says so (.jpg/.jpeg): smaller, for photos."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() in (".jpg", ".jpeg"):
        picture.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
    else:
        picture.save(out, "PNG", optimize=True)


def _cmd_export(args: argparse.Namespace, config: Config) -> int:
    if args.chat and not args.platform:
        raise ConfigError("--chat needs --platform")
    return asyncio.run(_export(config, args.out, args.platform, args.chat))


async def _export(config: Config, out: Path, platform: str | None, chat: str | None) -> int:
    from bot.app import open_repository
    from storage import export_corrections

    database = _sqlite_file(config.storage.url)
    if database is not None and not database.exists():  # never create an empty one just to export it
        print(
            f"memebot: no database at {database} ([storage] url): run this where the bot runs, "
            "or give --config with its [storage] url",
            file=sys.stderr,
        )
        return 1
    repo = await open_repository(config)
    try:
        summary = await export_corrections(repo, out, platform=platform, chat_id=chat)
    finally:
        await repo.aclose()
    if summary.images == 0:
        summary.path.unlink(missing_ok=True)
        where = f" for {platform}" + (f" chat {chat}" if chat else "") if platform else ""
        print(f"memebot: nothing to export{where}: no corrections with a stored image yet", file=sys.stderr)
        return 1
    print(
        f"wrote {summary.path}: {summary.images} images ({summary.meme} meme, {summary.not_meme} not_meme)"
        + (
            f", {summary.skipped_missing_image} corrections skipped (image no longer stored)"
            if summary.skipped_missing_image
            else ""
        )
    )
    return 0


def _cmd_bench(args: argparse.Namespace, config: Config) -> int:
    from classifier.bench import failed_targets, format_table, run_benchmark

    settings = config.classifier
    if args.no_checkpoint or (args.checkpoint is None and not _exists(settings.checkpoint)):
        settings = dataclasses.replace(settings, checkpoint=None)
    result = run_benchmark(settings, out_json=args.out, quick=args.quick)
    print(format_table(result))
    print(f"\nwrote {args.out}")
    failed = failed_targets(result)
    if failed:
        print(f"memebot: missed {len(failed)} target(s): {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _cmd_random_checkpoint(args: argparse.Namespace, config: Config) -> int:
    from classifier.model import random_checkpoint

    path = random_checkpoint(args.out, input_size=args.input_size)
    print(
        f"wrote an UNTRAINED checkpoint to {path}: its verdicts are random, use it only to test the plumbing"
    )
    return 0


def _cmd_dataset_build(args: argparse.Namespace, config: Config) -> int:
    from classifier.training.dataset import DatasetError, build_dataset
    from classifier.training.manifest import format_summary
    from classifier.training.plan import SynthCounts

    try:
        manifest = build_dataset(
            args.source,
            args.out,
            seed=args.seed,
            image_size=args.size,
            counts=SynthCounts().scaled(args.scale),
            workers=args.workers,
            chromium=None if args.no_chromium else "auto",
            progress=lambda message: print(message, file=sys.stderr),
        )
    except DatasetError as exc:
        print(f"memebot: {exc}", file=sys.stderr)
        return 2
    print(format_summary(manifest.rows))
    summary = manifest.summary
    print(
        f"\nwrote {manifest.path}: {len(manifest.rows)} images, {summary['groups']} groups, "
        f"{summary['duplicates_dropped']} duplicates dropped, {len(manifest.ambiguous)} templates held out "
        f"(ambiguous.csv), web pages by {summary['webpage_renderer']}, {summary['seconds']} s"
    )
    return 0


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and SQLite URIs)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database.startswith("file:"):
        return None
    return Path(parsed.database).expanduser()


def _exists(path: Path | None) -> bool:
    return path is not None and path.exists()
