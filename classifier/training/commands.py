"""`memebot train | evaluate | quantize | dataset pack`: the training tools' command lines.

bot/cli.py mounts them into `memebot`; `python3 -m classifier.training.commands ...` runs the same
commands without the bot's own dependencies (Telegram, Discord, SQLAlchemy), as on a GPU machine
that has only torch, torchvision, numpy, Pillow, safetensors and matplotlib. Heavy imports happen
inside the command functions.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from classifier.errors import CheckpointError
from classifier.model import PRECISION_DTYPES, SUPPORTED_ARCHS
from classifier.training.data import DataSpec

SubParsers = argparse._SubParsersAction  # argparse has no public name for it


def default_workers() -> int:
    """Loader processes: all cores but one for the training loop, at most 12."""
    return max(0, min(12, (os.cpu_count() or 1) - 1))


def add_commands(sub: SubParsers, dataset: SubParsers | None = None) -> None:
    """Add train, evaluate and quantize to `sub`, and pack to the `dataset` subcommands when given."""
    _add_train(sub)
    _add_evaluate(sub)
    _add_quantize(sub)
    _add_calibrate(sub)
    if dataset is not None:
        _add_pack(dataset)


def _add_train(sub: SubParsers) -> None:
    train = sub.add_parser("train", help="train a meme classifier (see docs/model.md)")
    train.add_argument(
        "--data",
        action="append",
        type=DataSpec.parse,
        default=[],
        metavar="PATH[:SPLIT]",
        help="manifest.csv or dataset folder, meme/+not_meme/ folder, export zip or pack tar; repeatable",
    )
    train.add_argument("--out", type=Path, required=True, help="run folder (best/, last/, history.json)")
    train.add_argument("--init", default="scratch", help="scratch | imagenet (downloads) | FILE.safetensors")
    train.add_argument("--arch", default="resnet101", choices=SUPPORTED_ARCHS, help="smaller ones: tests")
    train.add_argument(
        "--epochs", type=int, help="default 30; with --resume: a new length for the run (its decay follows)"
    )
    train.add_argument("--batch-size", type=int, default=64)
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--weight-decay", type=float, default=0.05)
    train.add_argument("--warmup-epochs", type=float, default=1.0)
    train.add_argument("--label-smoothing", type=float, default=0.05)
    train.add_argument(
        "--input-size", type=int, default=128, help="192 or 224 with a dataset built --size 224"
    )
    train.add_argument(
        "--lowres-share",
        type=float,
        default=0.3,
        help="pictures of other sources brought to Memotion's 128 px so each label has the same share "
        "of low-resolution pictures, this share at least (0: off)",
    )
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--model-version", help="the version verdicts will name (default: date-based)")
    _add_machine_options(train, device="auto", batch_size=False)
    train.add_argument("--max-steps", type=int, help="stop after N optimizer steps in all (smoke runs)")
    train.add_argument("--time-limit", type=float, help="stop after S seconds of this run (resumable)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out exactly")
    _add_precision(train, "auto: bf16 autocast on CUDA and on CPUs with native bf16, else fp32")
    train.add_argument(
        "--save-every", type=float, default=600.0, help="seconds between mid-epoch saves of last/"
    )
    train.set_defaults(func=_cmd_train)


def _add_evaluate(sub: SubParsers) -> None:
    evaluate = sub.add_parser("evaluate", help="metrics, report and plots of a checkpoint on a split")
    evaluate.add_argument("--checkpoint", type=Path, required=True)
    evaluate.add_argument(
        "--data", action="append", type=DataSpec.parse, required=True, metavar="PATH[:SPLIT]"
    )
    evaluate.add_argument("--split", default="test", choices=("train", "val", "test", "wild", "all"))
    evaluate.add_argument("--out", type=Path, required=True)
    evaluate.add_argument("--run", type=Path, help="a training run folder: adds its training curves")
    _add_precision(
        evaluate,
        "as [classifier] precision: auto is bf16/fp16 on CUDA, bf16 on CPUs with native bf16, else fp32",
    )
    _add_machine_options(evaluate, device="auto")
    evaluate.set_defaults(func=_cmd_evaluate)


def _add_quantize(sub: SubParsers) -> None:
    quantize = sub.add_parser("quantize", help="int8 weights (~4x smaller) and their verdict agreement")
    quantize.add_argument("--checkpoint", type=Path, required=True)
    quantize.add_argument("--out", type=Path, required=True, help="folder for the int8 checkpoint")
    quantize.add_argument("--check-data", action="append", type=DataSpec.parse, default=[], metavar="PATH")
    quantize.add_argument("--split", default="test", choices=("train", "val", "test", "wild", "all"))
    _add_machine_options(quantize, device="cpu")
    quantize.set_defaults(func=_cmd_quantize)


def _add_calibrate(sub: SubParsers) -> None:
    calibrate = sub.add_parser(
        "calibrate", help="fit a temperature on the val split, store it in the checkpoint, report ECE"
    )
    calibrate.add_argument(
        "--checkpoint", type=Path, required=True, help="its model.json gets the temperature"
    )
    calibrate.add_argument(
        "--data", action="append", type=DataSpec.parse, required=True, metavar="PATH[:SPLIT]"
    )
    calibrate.add_argument("--fit-split", default="val", choices=("train", "val", "test"))
    calibrate.add_argument(
        "--report", action="append", default=[], choices=("val", "test", "wild"), help="splits to report on"
    )
    calibrate.add_argument(
        "--out", type=Path, required=True, help="calibration.json and reliability diagrams"
    )
    _add_machine_options(calibrate, device="cpu")
    calibrate.set_defaults(func=_cmd_calibrate)


def _add_machine_options(parser: argparse.ArgumentParser, *, device: str, batch_size: bool = True) -> None:
    parser.add_argument("--device", default=device, help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--workers", type=int, default=default_workers(), help="image decoding processes")
    if batch_size:
        parser.add_argument("--batch-size", type=int, default=64)


def _add_precision(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--precision", default="auto", choices=("auto", *PRECISION_DTYPES), help=help_text)


def _add_pack(dataset: SubParsers) -> None:
    pack = dataset.add_parser("pack", help="a built dataset as one small tar for a GPU machine")
    pack.add_argument("--dataset", type=Path, default=Path("data/dataset"))
    pack.add_argument("--out", type=Path, default=Path("data/pack/dataset.tar"))
    pack.add_argument("--size", type=int, default=128, help="longest side of every image")
    pack.add_argument("--quality", type=int, default=80)
    pack.add_argument("--format", default="webp", choices=("webp", "jpeg"))
    pack.add_argument("--max-mib", type=float, default=60.0, help="refuse to write a larger tar")
    pack.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    pack.set_defaults(func=_cmd_pack)


def _fail(error: Exception) -> int:
    print(f"memebot: {error}", file=sys.stderr)
    return 2


def _cmd_train(args: argparse.Namespace, _config: object = None) -> int:
    from classifier.training.augment import Augmentation
    from classifier.training.recipe import Recipe
    from classifier.training.train import TrainError, TrainOptions, train

    lowres = {"lowres_sources": ("memotion",), "lowres_share": args.lowres_share} if args.lowres_share else {}

    recipe = Recipe(
        arch=args.arch,
        init=args.init,
        epochs=args.epochs or Recipe.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        warmup_epochs=args.warmup_epochs,
        label_smoothing=args.label_smoothing,
        input_size=args.input_size,
        seed=args.seed,
        augmentation=Augmentation(**lowres),
    )
    options = TrainOptions(
        data=tuple(args.data),
        out=args.out,
        recipe=recipe,
        device=args.device,
        precision=args.precision,
        workers=args.workers,
        max_steps=args.max_steps,
        save_every=args.save_every,
        time_limit=args.time_limit,
        resume=args.resume,
        resume_epochs=args.epochs if args.resume else None,
        model_version=args.model_version,
    )
    try:
        result = train(options)
    except (OSError, ValueError, TrainError, CheckpointError) as error:  # ValueError: data, init, device
        return _fail(error)
    best = result.state.best or {}
    shown = ", ".join(f"{k} {v:.4f}" for k, v in best.get("val", {}).items() if isinstance(v, float))
    status = "finished" if result.finished else "stopped early by --max-steps/--time-limit (--resume goes on)"
    when = f"epoch {best['epoch']}" if best.get("epoch") else f"step {best.get('step')}, mid-epoch"
    print(f"{status}: best checkpoint {result.best} ({when}) {shown}")
    return 0


def _cmd_evaluate(args: argparse.Namespace, _config: object = None) -> int:
    from classifier.training.evaluate import evaluate

    try:
        result = evaluate(
            args.checkpoint,
            args.data,
            args.out,
            split=args.split,
            run_dir=args.run,
            device=args.device,
            precision=args.precision,
            batch_size=args.batch_size,
            workers=args.workers,
        )
    except (OSError, ValueError, CheckpointError) as error:  # ValueError: data, manifests, devices
        return _fail(error)
    h = result["headline"]
    auc = "n/a" if h["roc_auc"] is None else f"{h['roc_auc']:.4f}"
    print(
        f"{result['images']} images: accuracy {h['accuracy']:.4f}, precision {h['precision']:.4f}, "
        f"recall {h['recall']:.4f}, F1 {h['f1']:.4f}, ROC-AUC {auc}, text-bearing non-memes called memes "
        f"{h['hard_negatives_called_meme']:.1%} of {h['hard_negatives']}\nwrote {args.out / 'report.md'}"
    )
    return 0


def _cmd_quantize(args: argparse.Namespace, _config: object = None) -> int:
    from classifier.training.quantize import AGREEMENT_TARGET, quantize_checkpoint

    try:
        result = quantize_checkpoint(
            args.checkpoint,
            args.out,
            check=args.check_data,
            split=args.split,
            device=args.device,
            batch_size=args.batch_size,
            workers=args.workers,
        )
    except (OSError, ValueError, CheckpointError) as error:
        return _fail(error)
    mib = 1024 * 1024
    print(
        f"wrote {result.path}: {result.int8_bytes / mib:.1f} MiB "
        f"({result.float_bytes / mib:.1f} MiB in float32, {result.ratio:.2f}x smaller)"
    )
    if result.agreement is None:
        return 0
    share, n = result.agreement["agreement"], result.agreement["images"]
    print(f"verdicts agree with the float32 model on {share:.2%} of {n} {args.split} images")
    if share < AGREEMENT_TARGET:
        print(
            f"memebot: below the {AGREEMENT_TARGET:.1%} target: do not ship this checkpoint", file=sys.stderr
        )
        return 1
    return 0


def _cmd_calibrate(args: argparse.Namespace, _config: object = None) -> int:
    from classifier.training.calibrate_checkpoint import calibrate_checkpoint

    try:
        result = calibrate_checkpoint(
            args.checkpoint,
            args.data,
            args.out,
            fit_split=args.fit_split,
            report=args.report or ["test"],
            device=args.device,
            batch_size=args.batch_size,
            workers=args.workers,
        )
    except (OSError, ValueError, CheckpointError) as error:
        return _fail(error)
    print(
        f"temperature {result['temperature']:.3f} (fitted on {result['fit_images']} {args.fit_split} images)"
    )
    for split, row in result["splits"].items():
        acted = row["after"]["at_0.8"]
        print(
            f"{split}: ECE {row['before']['ece']:.4f} -> {row['after']['ece']:.4f}; at threshold 0.8 "
            f"{acted['wrong_share_of_acted_on']:.1%} of what memes-only acts on is a meme"
        )
    print(f"wrote {args.checkpoint} (temperature) and {args.out / 'calibration.json'}")
    return 0


def _cmd_pack(args: argparse.Namespace, _config: object = None) -> int:
    from classifier.training.pack import pack_dataset

    try:
        pack_dataset(
            args.dataset,
            args.out,
            size=args.size,
            quality=args.quality,
            image_format=args.format,
            max_mib=args.max_mib,
            workers=args.workers,
            progress=lambda message: print(message, file=sys.stderr),
        )
    except (OSError, ValueError) as error:  # PackError, DataError, ManifestError
        return _fail(error)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m classifier.training.commands")
    sub = parser.add_subparsers(dest="command", required=True)
    add_commands(sub)
    dataset = sub.add_parser("dataset", help="dataset tools").add_subparsers(
        dest="dataset_command", required=True
    )
    _add_pack(dataset)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
