"""ResNet meme classifier: model building, safetensors checkpoints, device/precision and batched inference.

A checkpoint is never a pickle, so one from anyone is safe to load. A checkpoint directory holds
`model.safetensors` (the state_dict as contiguous CPU tensors) and `model.json`; a `<name>.safetensors`
path has its metadata in the sibling `<name>.json`. The JSON holds "format": "memebot-checkpoint",
"format_version": 1, "weights": "float32" and the CheckpointMeta fields: arch, classes, input_size,
mean, std, model_version and extra (training data summary, metrics, ...).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch
import torchvision
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from classifier.errors import CheckpointError
from classifier.int8 import dequantise_int8

CLASSES = ("meme", "not_meme")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CHECKPOINT_FORMAT = "memebot-checkpoint"
CHECKPOINT_FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
SUPPORTED_ARCHS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
PICKLE_SUFFIXES = frozenset({".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt", ".tar"})
PRECISION_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@dataclasses.dataclass(frozen=True)
class CheckpointMeta:
    """Everything needed to feed a checkpoint the right input and read its output."""

    classes: tuple[str, ...]
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    model_version: str
    arch: str = "resnet101"
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    # Logits are divided by this before the softmax (`memebot calibrate` fits it on the validation
    # split), so that a confidence of 80% is right about 80% of the time; 1.0 is the model as trained.
    temperature: float = 1.0


def build_model(arch: str = "resnet101", num_classes: int = 2) -> torchvision.models.ResNet:
    """A torchvision ResNet with random weights and its `fc` replaced by `num_classes` outputs."""
    if arch not in SUPPORTED_ARCHS:
        raise ValueError(f"unknown arch {arch!r}; supported: {', '.join(SUPPORTED_ARCHS)}")
    model: torchvision.models.ResNet = getattr(torchvision.models, arch)(weights=None)
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


def checkpoint_paths(path: Path) -> tuple[Path, Path]:
    """(weights file, metadata file) for a checkpoint directory or `.safetensors` file path."""
    path = Path(path)
    if path.suffix == ".safetensors":
        return path, path.with_suffix(".json")
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise CheckpointError(_pickle_refusal(path))
    weights = path / WEIGHTS_FILE
    return weights, weights.with_suffix(".json")


def save_checkpoint(model: nn.Module, meta: CheckpointMeta, path: Path) -> Path:
    """Write weights and metadata (see the module docstring); returns the `.safetensors` path."""
    weights_path, meta_path = checkpoint_paths(path)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {name: t.detach().to("cpu").contiguous() for name, t in model.state_dict().items()}
    # Write to temporary names and rename, so a crash never leaves a half-written checkpoint behind.
    with _atomic_path(weights_path) as tmp:
        safetensors.torch.save_file(tensors, str(tmp), metadata={"format": CHECKPOINT_FORMAT})
    with _atomic_path(meta_path) as tmp:
        tmp.write_text(json.dumps(_meta_to_json(meta), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return weights_path


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> tuple[nn.Module, CheckpointMeta]:
    """Load a checkpoint directory or `.safetensors` file; never unpickles anything."""
    weights_path, meta_path = checkpoint_paths(path)
    _check_files(weights_path, meta_path)
    raw_meta = _read_meta_json(meta_path)
    meta = _meta_from_json(raw_meta, meta_path)
    try:
        stored = safetensors.torch.load_file(str(weights_path), device="cpu")
    except (safetensors.SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{weights_path} is corrupt or not a safetensors file: {e}") from e
    tensors = _decode_weights(stored, raw_meta.get("weights", "float32"))
    # On the meta device: no time wasted on a random init that the weights overwrite anyway.
    with torch.device("meta"):
        model = build_model(meta.arch, len(meta.classes))
    _load_state(model, tensors, weights_path)
    return model.to(device).eval(), meta


def load_meta(path: Path) -> CheckpointMeta:
    """A checkpoint's metadata alone (input size, classes, normalisation), without its weights."""
    _, meta_path = checkpoint_paths(Path(path))
    return _meta_from_json(_read_meta_json(meta_path), meta_path)


def random_checkpoint(
    path: Path, *, input_size: int = 224, model_version: str = "random-init", seed: int = 0
) -> Path:
    """Save a random-weight ResNet101 checkpoint (for tests and benchmarks); returns the weights path."""
    # fork_rng keeps the caller's global RNG stream untouched by our seeding.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model("resnet101", len(CLASSES))
    note = {"note": "random weights: for tests and benchmarks only", "seed": seed}
    meta = CheckpointMeta(CLASSES, input_size, IMAGENET_MEAN, IMAGENET_STD, model_version, extra=note)
    return save_checkpoint(model, meta, path)


def select_device(name: str = "auto") -> torch.device:
    """'auto' (CUDA when available, else CPU), 'cpu', 'cuda' or 'cuda:N'; ValueError if unusable."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"unknown device {name!r}; use 'auto', 'cpu', 'cuda' or 'cuda:N'") from e
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {name!r}; use 'auto', 'cpu', 'cuda' or 'cuda:N'")
    if device.type == "cpu":
        return device
    if not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but CUDA is not available here; use 'cpu' or 'auto'")
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise ValueError(f"device {name!r} does not exist: this machine has {count} CUDA device(s)")
    return device


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 in hardware (AVX512-BF16 or AMX), where oneDNN runs a bf16
    ResNet about twice as fast as fp32. Plain AVX512 CPUs only emulate bf16, slower than fp32."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # private: absent means no
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)


def resolve_precision(precision: str, device: torch.device) -> torch.dtype:
    """The compute dtype for `precision` on `device`. 'auto': bf16 (fp16 where bf16 is missing) on
    CUDA; on the CPU bf16 where the CPU has it natively (see cpu_has_native_bf16), else fp32."""
    if precision == "auto" and device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if precision == "auto":
        return torch.bfloat16 if cpu_has_native_bf16() else torch.float32
    if precision not in PRECISION_DTYPES:
        raise ValueError(f"unknown precision {precision!r}; use auto, {', '.join(PRECISION_DTYPES)}")
    return PRECISION_DTYPES[precision]


def fold_batch_norms(model: nn.Module) -> nn.Module:
    """Fold each BatchNorm of an eval-mode ResNet into the convolution before it (its `convN`/`bnN`
    pairs and each downsample's conv and norm), in place, and return `model`. The same function
    with fewer layers: ResNet101 at 128 px, batch 16, bf16 on one thread of the 2-core VM ran 67.3
    images/s against 61.7 (medians of 8 alternating runs, `/tmp` script), and its probabilities
    moved by at most 0.0002. For inference only: folded, it can no longer train, and its
    state_dict no longer fits build_model. In place, so loading holds no second float32 copy of
    the weights (peak RSS 1,090 against 1,102-1,114 MiB for a folded copy)."""
    for parent in list(model.modules()):
        children = dict(parent.named_children())
        pairs = [(name, "bn" + name.removeprefix("conv")) for name in children if name.startswith("conv")]
        if isinstance(parent, nn.Sequential) and len(parent) == 2:
            pairs.append(("0", "1"))  # a downsample: Sequential(conv, norm)
        for conv_name, norm_name in pairs:
            conv, norm = children.get(conv_name), children.get(norm_name)
            if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
                setattr(parent, conv_name, fuse_conv_bn_eval(conv, norm))
                setattr(parent, norm_name, nn.Identity())
    return model


def release_free_memory() -> None:
    """Hand the C heap's free pages back to the OS (glibc's malloc_trim; elsewhere nothing).
    Loading, folding and converting a model frees hundreds of MiB in pieces glibc otherwise keeps:
    after loading the shipped model and two batches the process held 999 MiB, and 781 MiB once
    trimmed. Trimmed right after loading, as InferenceModel does, it held 843 MiB after the two
    batches, against 857 with neither folding nor trimming (`/tmp` script, /proc/self/statm)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # not glibc (musl has no malloc_trim)
            ctypes.CDLL(None).malloc_trim(0)


class InferenceModel:
    """A loaded classifier in eval mode on one device, answering batches with probabilities. It
    takes the module over: folded (see fold_batch_norms) and converted in place; give it a copy to
    keep using the module."""

    def __init__(
        self, model: nn.Module, meta: CheckpointMeta, device: torch.device, precision: str = "auto"
    ) -> None:
        self.meta = meta
        self.device = torch.device(device)
        self.dtype = resolve_precision(precision, self.device)
        # channels_last lets cuDNN use its tensor-core kernels and oneDNN its bf16 ones (ResNet101 at
        # 128 px, batch 16, 2-core AVX512-BF16 CPU: 110 images/s against 76 in NCHW). For fp32 on the
        # CPU it made no difference that could be told from noise, so that path stays as it was.
        fast_layout = self.device.type == "cuda" or self.dtype != torch.float32
        self._memory_format = torch.channels_last if fast_layout else torch.contiguous_format
        folded = fold_batch_norms(model.eval())
        self._model = folded.to(self.device, self.dtype).to(memory_format=self._memory_format)
        release_free_memory()

    @classmethod
    def from_checkpoint(
        cls, path: Path, device: torch.device | str = "auto", precision: str = "auto"
    ) -> InferenceModel:
        dev = device if isinstance(device, torch.device) else select_device(device)
        model, meta = load_checkpoint(path, dev)
        return cls(model, meta, dev, precision)

    def predict(self, batch: torch.Tensor) -> torch.Tensor:
        """Normalised float images [N, 3, S, S] -> float32 CPU class probabilities [N, classes]."""
        if batch.ndim != 4 or batch.shape[1] != 3:
            raise ValueError(f"expected a batch shaped [N, 3, S, S], got {list(batch.shape)}")
        with torch.inference_mode():
            x = batch.to(self.device, non_blocking=True)
            logits = self._model(x.to(dtype=self.dtype, memory_format=self._memory_format))
            # Softmax in fp32: half-precision logits are fine, half-precision probabilities round badly.
            return (logits.float() / self.meta.temperature).softmax(dim=1).cpu()

    def warmup(self, batch_sizes: Sequence[int] = (1,)) -> None:
        """Run dummy batches so the first real request does not pay for kernel selection."""
        size = self.meta.input_size
        for n in batch_sizes:
            self.predict(torch.zeros(n, 3, size, size))  # predict() waits for the device: .cpu()


# How each stored weight format becomes a float state_dict ("int8": see classifier/int8.py, written
# by classifier/training/quantize.py); nothing else in the loader depends on the format.
WEIGHT_DECODERS: dict[str, Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]] = {
    "float32": lambda tensors: tensors,
    "int8": dequantise_int8,
}


def _decode_weights(tensors: dict[str, torch.Tensor], weights_format: object) -> dict[str, torch.Tensor]:
    decoder = WEIGHT_DECODERS.get(str(weights_format))
    if decoder is None:
        known = ", ".join(WEIGHT_DECODERS)
        raise CheckpointError(f"weights stored as {weights_format!r} (this version reads {known}); upgrade")
    return decoder(tensors)


def _pickle_refusal(path: Path) -> str:
    fix = "convert it once, from a trusted copy, with classifier.model.save_checkpoint(model, meta, DIR)"
    return f"refusing to unpickle {path}: pickled model files can run arbitrary code; {fix}"


def _check_files(weights_path: Path, meta_path: Path) -> None:
    if not weights_path.is_file():
        hint = f"give a directory with {WEIGHTS_FILE} and model.json, or a .safetensors file"
        raise CheckpointError(f"checkpoint not found: {weights_path} does not exist ({hint})")
    with weights_path.open("rb") as f:
        head = f.read(9)
    # torch.save writes a zip (PK..) or a raw pickle (protocol byte 0x80); safetensors starts with an
    # 8-byte header length followed by '{'.
    if head.startswith(b"PK") or head[:1] == b"\x80":
        raise CheckpointError(_pickle_refusal(weights_path))
    if len(head) < 9 or head[8:9] != b"{":
        raise CheckpointError(f"{weights_path} is not a safetensors file (corrupt or wrong format)")
    if not meta_path.is_file():
        raise CheckpointError(
            f"checkpoint metadata not found: {meta_path} must sit next to {weights_path.name} "
            "(classes, input_size, mean, std, model_version)"
        )


def _read_meta_json(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path} is not valid JSON checkpoint metadata: {e}") from e
    if not isinstance(raw, dict) or raw.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not memebot checkpoint metadata (its 'format' is wrong)")
    if raw.get("format_version") != CHECKPOINT_FORMAT_VERSION:
        version = raw.get("format_version")
        raise CheckpointError(f"{path} has format_version {version!r}; upgrade memebot to read it")
    return raw


def _meta_to_json(meta: CheckpointMeta) -> dict[str, Any]:
    header = {"format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_FORMAT_VERSION, "weights": "float32"}
    fields = {f.name: getattr(meta, f.name) for f in dataclasses.fields(meta)}
    return {**header, **fields, "extra": dict(meta.extra)}


def _meta_from_json(raw: Mapping[str, Any], path: Path) -> CheckpointMeta:
    parsers: dict[str, Callable[[Any], Any]] = {"classes": _names, "input_size": int, "mean": _triple}
    parsers |= {"std": _triple, "model_version": str, "arch": str, "extra": dict, "temperature": float}
    values, fields = {"arch": "resnet101", "extra": {}, "temperature": 1.0, **raw}, {}
    for name, parse in parsers.items():
        try:
            fields[name] = parse(values[name])
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{path}: metadata field {name!r} is missing or bad ({e})") from e
    meta = CheckpointMeta(**fields)
    distinct = len(set(meta.classes)) == len(meta.classes) >= 2
    if (
        not distinct
        or meta.input_size < 16
        or meta.arch not in SUPPORTED_ARCHS
        or not 0 < meta.temperature < 100
    ):
        raise CheckpointError(
            f"{path}: needs 2+ distinct classes, input_size >= 16, arch in {SUPPORTED_ARCHS}, "
            "a temperature between 0 and 100"
        )
    return meta


def _names(values: Any) -> tuple[str, ...]:
    if not isinstance(values, list):
        raise TypeError("expected a list of class names")
    return tuple(str(v) for v in values)


def _triple(values: Any) -> tuple[float, float, float]:
    a, b, c = map(float, values)
    return a, b, c


def _load_state(model: nn.Module, tensors: Mapping[str, torch.Tensor], path: Path) -> None:
    expected = model.state_dict()

    def few(keys: Sequence[str]) -> str:
        return f"{len(keys)} key(s) {keys[:3]}{'...' if len(keys) > 3 else ''}"

    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong_shape = sorted(k for k in set(expected) & set(tensors) if expected[k].shape != tensors[k].shape)
    if missing or unexpected or wrong_shape:
        raise CheckpointError(
            f"{path} does not match the model in its metadata: "
            f"{few(missing)} missing, {few(unexpected)} unexpected, {few(wrong_shape)} with the wrong "
            "shape. Check 'arch' and 'classes' in the JSON, or re-export the checkpoint."
        )
    model.load_state_dict(tensors, strict=True, assign=True)


@contextlib.contextmanager
def _atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path next to `target`; rename it onto `target` only on success."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.chmod(tmp, 0o644)  # a checkpoint is for reading by others (the bot's user, a container)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
