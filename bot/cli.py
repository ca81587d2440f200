"""`memebot run | classify | export | bench | random-checkpoint`."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config import DEFAULT_CHECKPOINT, Config, load_config
from bot.errors import ConfigError
from bot.logs import setup_logging
from classifier import CheckpointError, Classifier, ClassifierError

NO_DEFAULT_MODEL = """\
memebot: the trained default model has not shipped with this version yet (README: "What does not
work yet"). Point [classifier] checkpoint (or --checkpoint) at a safetensors checkpoint, or, to try
the plumbing with random verdicts, make an untrained one:
    memebot random-checkpoint --out models/untrained
    memebot run --checkpoint models/untrained"""


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

    export = sub.add_parser("export", help="write the corrections as a training zip")
    export.add_argument("--out", type=Path, required=True)
    export.add_argument("--platform", help="only this platform (telegram, discord, console)")
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
    return parser


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


def _cmd_export(args: argparse.Namespace, config: Config) -> int:
    if args.chat and not args.platform:
        raise ConfigError("--chat needs --platform")
    return asyncio.run(_export(config, args.out, args.platform, args.chat))


async def _export(config: Config, out: Path, platform: str | None, chat: str | None) -> int:
    from bot.app import open_repository
    from storage import export_corrections

    repo = await open_repository(config)
    try:
        summary = await export_corrections(repo, out, platform=platform, chat_id=chat)
    finally:
        await repo.aclose()
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
    from classifier.bench import format_table, run_benchmark

    settings = config.classifier
    if args.no_checkpoint or (args.checkpoint is None and not _exists(settings.checkpoint)):
        settings = dataclasses.replace(settings, checkpoint=None)
    result = run_benchmark(settings, out_json=args.out, quick=args.quick)
    print(format_table(result))
    print(f"\nwrote {args.out}")
    return 0


def _cmd_random_checkpoint(args: argparse.Namespace, config: Config) -> int:
    from classifier.model import random_checkpoint

    path = random_checkpoint(args.out, input_size=args.input_size)
    print(
        f"wrote an UNTRAINED checkpoint to {path}: its verdicts are random, use it only to test the plumbing"
    )
    return 0


def _exists(path: Path | None) -> bool:
    return path is not None and path.exists()
