"""`memebot bench`: raw model, end-to-end service and preprocessing speed on this machine, with targets."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import itertools
import json
import logging
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torchvision
from PIL import Image, ImageDraw

from classifier.batcher import BatcherStats
from classifier.errors import ClassifierError
from classifier.inference import InferencePools
from classifier.model import CheckpointMeta, InferenceModel, load_checkpoint, random_checkpoint, select_device
from classifier.preprocess import preprocess
from classifier.service import Classifier, ClassifierSettings, decode_limits, inference_pools

BATCH_SIZES = (1, 2, 4, 8, 16, 32)
CONCURRENCY = (1, 8, 32, 128)
TARGET_CALLERS = 32  # the throughput targets apply from this many concurrent callers up
IMAGE_SIZE = (640, 480)
BASE_IMAGES = 64  # distinct photos; requests reuse them with a unique JPEG comment (see _distinct)
# Queueing 128 callers on a slow CPU takes longer than the bot's request timeout; the bench measures
# that latency rather than counting it as failures.
BENCH_TIMEOUT_S = 3600.0
log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class _Plan:
    raw_rounds: int  # time every raw batch size this many times, interleaved ...
    raw_min_s: float  # ... each time for at least this long ...
    raw_min_iters: int  # ... and this many batches
    scenario_s: float  # aim each service scenario at about this long at the best raw speed
    target_rounds: int  # a targeted scenario runs in this many rounds, with the raw re-timings between
    reference_s: float  # re-time the best raw batch this long before and after each round
    latency_rounds: int  # one caller: batched and unbatched take turns this many times each
    per_caller: int  # ... but give every caller at least this many requests
    min_requests: int
    max_requests: int
    preprocess_images: int


# A full CPU run at 224 px takes a few minutes; quick (for tests) takes seconds at 64 px.
FULL = _Plan(
    raw_rounds=3, raw_min_s=1.0, raw_min_iters=3,
    scenario_s=8.0, target_rounds=3, reference_s=1.5, latency_rounds=4,
    per_caller=2, min_requests=32, max_requests=4096, preprocess_images=128,
)  # fmt: skip
QUICK = _Plan(
    raw_rounds=1, raw_min_s=0.0, raw_min_iters=1,
    scenario_s=0.0, target_rounds=2, reference_s=0.0, latency_rounds=2,
    per_caller=1, min_requests=8, max_requests=128, preprocess_images=16,
)  # fmt: skip


def run_benchmark(
    settings: ClassifierSettings, *, out_json: Path | None, quick: bool = False, input_size: int | None = None
) -> dict[str, Any]:
    """Run every section on `settings.device`; synchronous (call it outside any event loop).

    Without `settings.checkpoint` a random-weight ResNet101 is benched (speed is real, verdicts are
    not). `input_size` overrides the checkpoint's input size; quick runs default to 64 px.
    """
    plan = QUICK if quick else FULL
    device = select_device(settings.device)
    # The model is loaded and run on the service's inference threads, as in the bot.
    with inference_pools(settings, device) as pools:
        layout = pools.layout
        model, source = pools.loader.submit(_load, settings, device, input_size, quick).result()
        meta = model.meta
        # The raw section warms the shared model up; per-scenario warm-ups would only cost time.
        settings = dataclasses.replace(settings, request_timeout_s=BENCH_TIMEOUT_S, warmup=False)
        log.info("bench on %s, input %d px, checkpoint %s", _describe(device), meta.input_size, source)
        images = _photos(BASE_IMAGES)
        layouts = [_Raw(*group) for group in pools.groups()]
        raw = _bench_raw(model, plan, layouts)
        best = max(raw, key=lambda row: row["images_per_s"])
        best_raw = next(r for r in layouts if (r.workers, r.threads) == (best["workers"], best["threads"]))
        batched, unbatched = asyncio.run(
            _bench_services(model, settings, images, plan, best, pools, best_raw)
        )
    result: dict[str, Any] = {
        "device": _describe(device),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "precision": str(model.dtype).removeprefix("torch."),
        "checkpoint": source,
        "model_version": meta.model_version,
        "input_size": meta.input_size,
        "quick": quick,
        "layout": layout._asdict(),
        "notes": [
            f"request_timeout_s raised to {BENCH_TIMEOUT_S:g} s so queueing shows as latency, not errors",
            "layout: the service's inference workers (batches side by side), torch threads per worker, "
            "and the solo thread's torch threads (a batch alone runs there; 0: none); raw_model times "
            "the workers side by side and the solo thread, and the best of all its rows is the ceiling "
            "the throughput targets use",
            "every service scenario has a fresh Classifier and distinct bytes per request (no cache hits)",
            "service images/s counts the steady state: completions from the first 10% to the last 10% "
            "(1 caller: every completion over the rounds' total time)",
            "targeted scenarios (32+ callers) run in rounds with the best raw batch size re-timed before, "
            "between and after them, as the machine's speed drifts: each round's reference is the mean of "
            "the re-timings around it; images_per_s, reference_images_per_s and ratio are the medians "
            "over the rounds of the round's rate, reference and rate / reference; the target is met when "
            "that median ratio is at least 0.9",
            "1 caller: batched and unbatched run in alternating rounds, so drift falls on both alike",
        ],
        "settings": json.loads(json.dumps(dataclasses.asdict(settings), default=str)),
        "images": {"size": list(IMAGE_SIZE), "base_photos": len(images), "format": "JPEG"},
        "raw_model": raw,
        "service_batched": batched,
        "service_unbatched": unbatched,
        "preprocess": _bench_preprocess(images, meta, settings, plan),
    }
    result["targets"] = _targets(result, settings.max_wait_ms)
    if quick:  # seconds of measurement at 64 px: a smoke test of every section, not a verdict
        for target in result["targets"]:
            target["passed"] = None
            target["detail"] = "not judged: --quick is a smoke test (" + target["detail"] + ")"
    if out_json is not None:
        out_json.parent.mkdir(parents=True, exist_ok=True)
        out_json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def _load(
    settings: ClassifierSettings, device: torch.device, input_size: int | None, quick: bool
) -> tuple[InferenceModel, str]:
    with tempfile.TemporaryDirectory(prefix="memebot-bench-") as tmp:
        checkpoint, source = _checkpoint(settings, Path(tmp), input_size or (64 if quick else 224))
        module, meta = load_checkpoint(checkpoint, device)
    if input_size:
        meta = dataclasses.replace(meta, input_size=input_size)
    return InferenceModel(module, meta, device, settings.precision), source


def format_table(result: Mapping[str, Any]) -> str:
    """Human-readable summary of a run_benchmark() result, ending with PASS/FAIL lines."""
    lines = [
        f"memebot bench on {result['device']} ({result['precision']}), torch {result['torch']}",
        f"checkpoint: {result['checkpoint']}, input {result['input_size']} px",
        f"service layout: {result['layout']['workers']} inference workers x "
        f"{result['layout']['threads'] or 'default'} torch threads, solo thread: "
        f"{result['layout']['solo_threads'] or 'none'}",
        "",
        "raw model (InferenceModel.predict on workers x threads side by side; median of rounds)",
        "  workers x threads  batch  images/s  ms/batch  rounds (images/s)",
    ]
    lines += [
        f"  {r['workers']:>7} x {r['threads'] or '-':<7}  {r['batch_size']:>5}  {r['images_per_s']:>8.1f}  "
        f"{r['ms_per_batch']:>8.1f}  " + " ".join(f"{x:.1f}" for x in r["rounds"])
        for r in result["raw_model"]
    ]
    lines += ["", "service (Classifier.classify, distinct 640x480 JPEGs)"]
    lines.append("  callers | batched images/s  p50 ms  p99 ms | unbatched images/s  p50 ms  p99 ms")
    for b, u in zip(result["service_batched"], result["service_unbatched"], strict=True):
        lines.append(
            f"  {b['concurrency']:>7} | {b['images_per_s']:>16.1f} {b['p50_ms']:>7.1f} {b['p99_ms']:>7.1f} | "
            f"{u['images_per_s']:>18.1f} {u['p50_ms']:>7.1f} {u['p99_ms']:>7.1f}"
        )
    pre = result["preprocess"]
    lines += [
        "",
        f"preprocessing: {pre['single_thread_images_per_s']:.1f} images/s on 1 thread, "
        f"{pre['pool_images_per_s']:.1f} images/s on {pre['pool_workers']} workers",
        "",
    ]
    lines += [f"{_verdict(t['passed'])}  {t['name']}: {t['detail']}" for t in result["targets"]]
    return "\n".join(lines)


def _checkpoint(settings: ClassifierSettings, tmp: Path, input_size: int) -> tuple[Path, str]:
    if settings.checkpoint is not None:
        return settings.checkpoint, str(settings.checkpoint)
    path = random_checkpoint(tmp, input_size=input_size, model_version="random-init-bench")
    return path, "random-init ResNet101 in a temporary directory (no checkpoint configured)"


def _describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    cpu = platform.processor() or platform.machine()
    return f"cpu ({cpu}, {os.cpu_count()} cores)"


class _Raw(NamedTuple):
    """Raw model timing on inference threads: `workers` of them running batches back to back."""

    pool: ThreadPoolExecutor
    workers: int
    threads: int

    def images_per_s(self, model: InferenceModel, batch: torch.Tensor, min_s: float, min_iters: int) -> float:
        """Every worker runs `model.predict(batch)` for min_s seconds and min_iters times; images/s in all."""
        start = time.perf_counter()
        jobs = [self.pool.submit(_repeat, model, batch, min_s, min_iters) for _ in range(self.workers)]
        images = sum(job.result() for job in jobs) * len(batch)
        return images / (time.perf_counter() - start)


def _noise(n: int, size: int) -> torch.Tensor:
    """A random batch made in NumPy: a big torch op here would give this (the caller's) thread an
    OpenMP team of its own, which slows the solo inference thread (see classifier/inference.py)."""
    return torch.from_numpy(np.random.default_rng(n).standard_normal((n, 3, size, size), dtype=np.float32))


def _repeat(model: InferenceModel, batch: torch.Tensor, min_s: float, min_iters: int) -> int:
    iters, start = 0, time.perf_counter()
    while iters < min_iters or time.perf_counter() - start < min_s:
        model.predict(batch)
        iters += 1
    return iters


def _bench_raw(model: InferenceModel, plan: _Plan, layouts: Sequence[_Raw]) -> list[dict[str, Any]]:
    size = model.meta.input_size
    batches = {n: _noise(n, size) for n in BATCH_SIZES}
    for raw in layouts:
        for batch in batches.values():
            # The first call per shape and thread pays for kernel selection and allocation.
            raw.images_per_s(model, batch, 0.0, 1)
    # Rounds go through every layout and batch size in turn, so a slow spell of a shared machine (this
    # project's 2-core VM swings by 15-30% within seconds) falls on all alike; each reports its median.
    speeds: dict[tuple[int, int], list[float]] = {
        (i, n): [] for i in range(len(layouts)) for n in BATCH_SIZES
    }
    for _ in range(plan.raw_rounds):
        for (i, n), rounds in speeds.items():
            rounds.append(layouts[i].images_per_s(model, batches[n], plan.raw_min_s, plan.raw_min_iters))
    rows = []
    for (i, n), rounds in speeds.items():
        median = statistics.median(rounds)
        workers, threads = layouts[i].workers, layouts[i].threads
        rows.append(
            dict(
                workers=workers,
                threads=threads,
                batch_size=n,
                images_per_s=median,
                ms_per_batch=1000 * n * workers / median,
                rounds=rounds,
            )
        )
        log.info(
            "raw %dx%d threads, batch %d: %.1f images/s (rounds %s)",
            workers, threads, n, median, ", ".join(f"{r:.1f}" for r in rounds),
        )  # fmt: skip
    return rows


async def _bench_services(
    model: InferenceModel,
    settings: ClassifierSettings,
    images: Sequence[bytes],
    plan: _Plan,
    best: Mapping[str, Any],
    pools: InferencePools,
    best_raw: _Raw,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    unbatched_settings = dataclasses.replace(settings, max_batch_size=1)
    modes = (settings, unbatched_settings)
    best_batch = _noise(best["batch_size"], model.meta.input_size)

    async def raw_now() -> float:
        return await asyncio.to_thread(best_raw.images_per_s, model, best_batch, plan.reference_s, 1)

    batched, unbatched = [], []
    for concurrency in CONCURRENCY:
        wanted = max(
            plan.min_requests, plan.per_caller * concurrency, int(best["images_per_s"] * plan.scenario_s)
        )
        n = min(wanted, max(plan.max_requests, concurrency))
        if concurrency == 1:
            # The latency target compares two p50s a few ms apart: take turns so drift hits both.
            runs: tuple[list[_Run], list[_Run]] = ([], [])
            chunk = max(1, n // plan.latency_rounds)
            for r in range(plan.latency_rounds):
                for m in (0, 1) if r % 2 == 0 else (1, 0):
                    runs[m].append(await _run_service(model, modes[m], images, 1, chunk, pools))
            batched.append(_row(runs[0], settings, 1))
            unbatched.append(_row(runs[1], unbatched_settings, 1))
            continue
        if concurrency >= TARGET_CALLERS:
            rounds, references = [], [await raw_now()]
            for _ in range(plan.target_rounds):
                share = max(n // plan.target_rounds, concurrency * plan.per_caller)
                rounds.append(await _run_service(model, settings, images, concurrency, share, pools))
                references.append(await raw_now())
            batched.append(_row(rounds, settings, concurrency, references=references))
        else:
            run = await _run_service(model, settings, images, concurrency, n, pools)
            batched.append(_row([run], settings, concurrency))
        unbatched_run = await _run_service(model, unbatched_settings, images, concurrency, n, pools)
        unbatched.append(_row([unbatched_run], unbatched_settings, concurrency))
    return batched, unbatched


@dataclasses.dataclass
class _Run:
    """One service scenario: when each request finished and how long it took."""

    done: list[float]
    latencies: list[float]
    wall: float
    errors: int
    stats: BatcherStats


async def _run_service(
    model: InferenceModel,
    settings: ClassifierSettings,
    images: Sequence[bytes],
    concurrency: int,
    n: int,
    pools: InferencePools,
) -> _Run:
    run = _Run(done=[], latencies=[], wall=0.0, errors=0, stats=BatcherStats())
    requests = iter(range(n))  # shared by all callers: each request takes the next distinct image

    async def caller(classifier: Classifier) -> None:
        for i in requests:
            data = _distinct(images[i % len(images)], i)
            start = time.perf_counter()
            try:
                await classifier.classify(data)
            except ClassifierError:
                run.errors += 1
                continue
            run.done.append(time.perf_counter())
            run.latencies.append(run.done[-1] - start)

    async with Classifier(model, settings, pools=pools) as classifier:
        start = time.perf_counter()
        await asyncio.gather(*(caller(classifier) for _ in range(concurrency)))
        run.wall = time.perf_counter() - start
        run.stats = classifier.batcher_stats
    return run


# A steady rate needs this many completions over this long; with fewer (a quick run: a few dozen that
# arrive in bursts of a batch) it would divide by the gap inside one burst, e.g. 267,492 images/s.
MIN_STEADY_COMPLETIONS, MIN_STEADY_S = 20, 0.5
# The service runs the same model as the raw section: faster than this many times the raw best is a
# broken measurement, never a pass.
MAX_PLAUSIBLE_RATIO = 1.5


def _steady_rate(run: _Run) -> float:
    """Completions per second between the first and the last 10% of them (start-up and tail left out);
    every completion over the whole run's time where that window is too short to measure a rate."""
    done = sorted(run.done)
    cut = len(done) // 10
    steady = len(done) - 1 - 2 * cut
    if steady < MIN_STEADY_COMPLETIONS or done[-1 - cut] - done[cut] < MIN_STEADY_S:
        return len(done) / run.wall
    return steady / (done[-1 - cut] - done[cut])


def _row(
    runs: Sequence[_Run],
    settings: ClassifierSettings,
    concurrency: int,
    *,
    references: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Latencies and batches over all `runs`. images/s: the steady rate of one run; for rounds that
    took turns, every completion over their total time; or with `references` (raw re-timings before,
    between and after the runs), the median of the runs' steady rates, next to the references."""
    latencies = [x for run in runs for x in run.latencies]
    rate = _steady_rate(runs[0]) if len(runs) == 1 else len(latencies) / sum(run.wall for run in runs)
    batches = sum(run.stats.batches for run in runs)
    row: dict[str, Any] = {
        "concurrency": concurrency,
        "max_batch_size": settings.max_batch_size,
        "requests": len(latencies) + sum(run.errors for run in runs),
        "rounds": len(runs),
        "errors": sum(run.errors for run in runs),
        "images_per_s": rate,
        "p50_ms": 1000 * float(np.percentile(latencies, 50)) if latencies else float("nan"),
        "p99_ms": 1000 * float(np.percentile(latencies, 99)) if latencies else float("nan"),
        "mean_batch_size": sum(run.stats.items for run in runs) / batches if batches else 0.0,
        "solo_batches": sum(run.stats.solo for run in runs),
    }
    if references is not None:
        rates = [_steady_rate(run) for run in runs]
        around = [(before + after) / 2 for before, after in itertools.pairwise(references)]
        row |= {
            "images_per_s": statistics.median(rates),
            "reference_images_per_s": statistics.median(around),
            "ratio": statistics.median(rate / ref for rate, ref in zip(rates, around, strict=True)),
            "round_images_per_s": rates,
            "round_reference_images_per_s": around,
        }
    log.info("service %s", row)
    return row


def _bench_preprocess(
    images: Sequence[bytes], meta: CheckpointMeta, settings: ClassifierSettings, plan: _Plan
) -> dict[str, Any]:
    limits = decode_limits(settings)
    work = [images[i % len(images)] for i in range(plan.preprocess_images)]
    start = time.perf_counter()
    for data in work:
        preprocess(data, meta, limits)
    single = len(work) / (time.perf_counter() - start)
    with ThreadPoolExecutor(settings.preprocess_workers) as pool:
        start = time.perf_counter()
        list(pool.map(lambda data: preprocess(data, meta, limits), work))
        pooled = len(work) / (time.perf_counter() - start)
    return {
        "images": len(work),
        "single_thread_images_per_s": single,
        "pool_workers": settings.preprocess_workers,
        "pool_images_per_s": pooled,
    }


def failed_targets(result: Mapping[str, Any]) -> list[str]:
    """Names of the targets that were judged and missed (a quick run's are not judged)."""
    return [t["name"] for t in result["targets"] if t["passed"] is False]


def _verdict(passed: bool | None) -> str:
    return "SKIP" if passed is None else "PASS" if passed else "FAIL"


def _targets(result: Mapping[str, Any], max_wait_ms: float) -> list[dict[str, Any]]:
    best_raw = max(r["images_per_s"] for r in result["raw_model"])
    targets = []
    for b, u in zip(result["service_batched"], result["service_unbatched"], strict=True):
        if b["concurrency"] < TARGET_CALLERS:
            continue
        plausible = b["ratio"] <= MAX_PLAUSIBLE_RATIO and b["images_per_s"] <= MAX_PLAUSIBLE_RATIO * best_raw
        passed = plausible and b["ratio"] >= 0.9 and b["images_per_s"] > u["images_per_s"]
        rounds = " ".join(
            f"{rate / ref:.0%}"
            for rate, ref in zip(b["round_images_per_s"], b["round_reference_images_per_s"], strict=True)
        )
        detail = (
            f"{b['images_per_s']:.1f} images/s, {b['ratio']:.0%} of the best raw batch re-timed around "
            f"it ({b['reference_images_per_s']:.1f}; medians of {b['rounds']} rounds: {rounds}); needs "
            f">= 90% and > unbatched {u['images_per_s']:.1f}. Against the raw section's best, "
            f"{best_raw:.1f}: {b['images_per_s'] / best_raw:.0%}"
        )
        if not plausible:
            detail = (
                f"IMPOSSIBLE, a broken measurement (over {MAX_PLAUSIBLE_RATIO:g}x the raw model): " + detail
            )
        targets.append(
            {"name": f"throughput with {b['concurrency']} callers", "passed": passed, "detail": detail}
        )
    b1, u1 = result["service_batched"][0], result["service_unbatched"][0]
    bound = u1["p50_ms"] + max_wait_ms + 5.0
    targets.append(
        {
            "name": "latency with 1 caller",
            "passed": b1["p50_ms"] <= bound,
            "detail": f"batched p50 {b1['p50_ms']:.1f} ms; needs <= {bound:.1f} "
            "(unbatched p50 + max_wait_ms + 5)",
        }
    )
    return targets


def _photos(count: int, *, seed: int = 0) -> list[bytes]:
    """Photo-like JPEGs: smooth random colour fields, a few shapes and sensor-like grain."""
    rng = np.random.default_rng(seed)
    width, height = IMAGE_SIZE
    photos = []
    for _ in range(count):
        img = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize(
            IMAGE_SIZE, Image.Resampling.BICUBIC
        )
        draw = ImageDraw.Draw(img)
        for _ in range(6):
            x0, y0 = int(rng.integers(0, width - 40)), int(rng.integers(0, height - 40))
            box = (x0, y0, x0 + int(rng.integers(20, 240)), y0 + int(rng.integers(20, 180)))
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
        grain = rng.normal(0.0, 6.0, (height, width, 3))
        pixels = np.clip(np.asarray(img, dtype=np.float32) + grain, 0, 255).astype(np.uint8)
        out = io.BytesIO()
        Image.fromarray(pixels).save(out, "JPEG", quality=85)
        photos.append(out.getvalue())
    return photos


def _distinct(jpeg: bytes, index: int) -> bytes:
    """The same JPEG with a unique comment segment: same decode cost, different sha256 (no cache hit)."""
    comment = f"memebot-bench-{index}".encode()
    return jpeg[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + jpeg[2:]
