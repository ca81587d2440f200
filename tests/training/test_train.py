"""`memebot train`: every data form, checkpoints that load, exact resume, learning, augmentation."""

from __future__ import annotations

import io
import itertools
import json
import random
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
import torchvision
from PIL import Image, ImageDraw

from bot.cli import main
from classifier.model import CheckpointMeta, build_model, cpu_has_native_bf16, load_checkpoint
from classifier.preprocess import to_tensor
from classifier.training.augment import Augmentation, augment, letterbox, random_letterbox
from classifier.training.data import DataSpec, load_samples
from classifier.training.engine import training_precision
from classifier.training.init_weights import InitError, initial_model
from classifier.training.loaders import EpochOrder, class_weights
from classifier.training.recipe import Recipe, lr_at
from classifier.training.train import TrainError, TrainOptions, TrainResult, train
from tests.training.tinydata import TinyData, make_tiny_data

# Tests train a ResNet-18 at 32 px: the ResNet101 default takes the same code path, only slower.
SMALL = Recipe(arch="resnet18", epochs=3, batch_size=4, lr=1e-3, input_size=32, warmup_epochs=1.0)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> TinyData:
    return make_tiny_data(tmp_path_factory.mktemp("tiny"))


def run(tiny: TinyData, out: Path, recipe: Recipe = SMALL, **options: object) -> TrainResult:
    options = {"data": (DataSpec(tiny.manifest, None),), "log": lambda _m: None, **options}
    return train(TrainOptions(out=out, recipe=recipe, device="cpu", **options))  # type: ignore[arg-type]


def test_every_data_form_reads_the_same_images(tiny: TinyData) -> None:
    manifest = load_samples([DataSpec(tiny.manifest, None)])
    pack = load_samples([DataSpec(tiny.pack, None)])
    folder = load_samples([DataSpec(tiny.folder, None)])
    corrections = load_samples([DataSpec(tiny.export_zip, None)])
    assert len(manifest) == len(pack) == len(folder) == len(corrections) == 16
    assert [(s.label, s.split, s.source) for s in pack] == [(s.label, s.split, s.source) for s in manifest]
    assert {s.split for s in corrections} == {"train"}  # corrections are for learning...
    held_out = load_samples([DataSpec.parse(f"{tiny.export_zip}:test")])
    assert {s.split for s in held_out} == {"test"}  # ...unless a split is asked for
    assert {s.label for s in folder} == {"meme", "not_meme"}
    for sample in (pack[0], corrections[0], folder[0]):
        assert Image.open(io.BytesIO(sample.read())).size[0] > 0


def test_train_writes_a_checkpoint_that_loads_with_its_training_summary(
    tiny: TinyData, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "train",
        "--data",
        str(tiny.manifest),
        "--data",
        f"{tiny.export_zip}:train",
        "--out",
        str(tmp_path),
    ]
    args += ["--arch", "resnet18", "--input-size", "32", "--batch-size", "4", "--max-steps", "3"]
    assert main([*args, "--device", "cpu", "--workers", "0"]) == 0
    assert "stopped early" in capsys.readouterr().out
    _model, meta = load_checkpoint(tmp_path / "best")
    assert (meta.arch, meta.input_size, meta.classes) == ("resnet18", 32, ("meme", "not_meme"))
    extra = meta.extra
    assert extra["data"]["totals"]["train"] == {"meme": 14, "not_meme": 14}  # 6+6 manifest, 8+8 zip
    assert extra["data"]["counts"]["train"]["meme"]["corrections"] == 8
    assert extra["recipe"]["arch"] == "resnet18" and extra["recipe"]["augmentation"]["degrade_chance"] > 0
    assert extra["training"]["steps"] == 3 and extra["training"]["finished"] is False
    assert extra["training"]["wall_seconds"] > 0 and extra["hardware"]["device"] == "cpu"
    assert set(extra["metrics"]["val"]) >= {"accuracy", "loss", "f1", "roc_auc"}
    history = json.loads((tmp_path / "history.json").read_text())
    assert [row[0] for row in history["steps"]] == [1, 2, 3]
    assert main([*args, "--device", "cpu"]) == 2  # the folder already holds a run
    assert "--resume" in capsys.readouterr().err


def test_resume_continues_exactly_where_the_run_stopped(tiny: TinyData, tmp_path: Path) -> None:
    straight = run(tiny, tmp_path / "straight", max_steps=7)
    run(tiny, tmp_path / "split", max_steps=4)  # stops in the middle of epoch 2 (3 steps per epoch)
    resumed = run(tiny, tmp_path / "split", data=(), resume=True, max_steps=7)
    assert resumed.state.step == 7 and [s[0] for s in resumed.state.steps] == list(range(1, 8))
    assert resumed.state.steps == straight.state.steps  # same batches, augmentations, losses, lrs
    a = safetensors.torch.load_file(str(tmp_path / "straight/last/model.safetensors"))
    b = safetensors.torch.load_file(str(tmp_path / "split/last/model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    moments = safetensors.torch.load_file(str(tmp_path / "split/last/optimizer.safetensors"))
    assert any(k.endswith("/exp_avg") for k in moments)
    finished = run(tiny, tmp_path / "split", data=(), resume=True)
    assert finished.finished and finished.state.epoch == 3 and len(finished.state.epochs) == 3


def test_resume_refuses_other_data_and_a_missing_run(tiny: TinyData, tmp_path: Path) -> None:
    with pytest.raises(TrainError, match="no training state"):
        run(tiny, tmp_path, data=(), resume=True)
    run(tiny, tmp_path, max_steps=1)
    with pytest.raises(TrainError, match="its own data"):
        run(tiny, tmp_path, data=(DataSpec(tiny.pack, None),), resume=True)


def test_a_time_limit_stops_the_run_resumably(tiny: TinyData, tmp_path: Path) -> None:
    stopped = run(tiny, tmp_path, time_limit=0.0)  # a GPU call's budget, here spent at once
    assert stopped.state.step == 0 and not stopped.finished
    assert load_checkpoint(tmp_path / "best")[1].extra["training"]["finished"] is False
    assert run(tiny, tmp_path, data=(), resume=True, max_steps=2).state.step == 2


def test_loss_goes_down_on_a_learnable_task(tiny: TinyData, tmp_path: Path) -> None:
    # bright = meme, dark = not_meme; the whole train split per batch so batch norm sees both classes.
    recipe = Recipe(arch="resnet18", epochs=10, batch_size=12, lr=1e-3, input_size=32, warmup_epochs=1.0)
    result = run(tiny, tmp_path, recipe)
    losses = [step[2] for step in result.state.steps]
    assert np.mean(losses[-3:]) < 0.5 * losses[0]
    assert result.state.best is not None and result.state.best["val"]["accuracy"] == 1.0


def test_trains_from_a_pack_and_a_folder(tiny: TinyData, tmp_path: Path) -> None:
    data = (DataSpec(tiny.pack, None), DataSpec(tiny.folder, "train"))
    result = run(tiny, tmp_path, data=data, max_steps=2)
    assert result.state.step == 2 and (tmp_path / "best" / "model.safetensors").is_file()


def test_augmentation_never_mirrors_an_image() -> None:
    # Bright band on the left, as text would sit: a mirror would put it on the right.
    img = Image.new("RGB", (80, 60), (20, 20, 20))
    ImageDraw.Draw(img).rectangle((0, 0, 23, 59), fill=(250, 250, 250))
    meta = CheckpointMeta(("meme", "not_meme"), 48, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), "t")
    for seed in range(60):
        rng = random.Random(seed)
        out = random_letterbox(augment(img, rng, Augmentation()), meta, rng, Augmentation())
        columns = out.mean(dim=(0, 1))
        content = torch.nonzero(columns.abs() > 1e-6).flatten()
        bright = content[columns[content] > columns[content].mean()]
        assert bright.float().mean() < content.float().mean(), f"seed {seed}: the bright side moved right"


def test_training_letterbox_is_the_bots_letterbox_when_centred() -> None:
    img = Image.effect_noise((70, 40), 60).convert("RGB")
    meta = CheckpointMeta(("meme", "not_meme"), 32, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), "t")
    assert torch.equal(letterbox(img, meta), to_tensor(img, meta))


def test_epoch_order_is_seeded_and_resumable() -> None:
    order = EpochOrder(10, seed=3, batch_size=3)
    order.start(1)
    full = list(order)
    order.start(1, batch=2)
    assert list(order) == full[6:] and len(order) == 4
    order.start(2)
    assert sorted(i for i, _ in order) == list(range(10)) and list(order) != full


def test_class_weights_make_both_classes_weigh_the_same(tiny: TinyData) -> None:
    train_set = [s for s in load_samples([DataSpec(tiny.manifest, None)]) if s.split == "train"]
    uneven = train_set[:8]  # 6 memes, 2 not_memes
    weights = class_weights(uneven)
    assert weights[0] * 6 == pytest.approx(weights[1] * 2)


def test_learning_rate_warms_up_then_decays_to_zero() -> None:
    rates = [lr_at(step, 100, 10, 1.0) for step in range(101)]
    assert rates[0] == pytest.approx(0.1) and rates[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in itertools.pairwise(rates[10:])) and rates[100] == 0.0


def test_imagenet_init_offline_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*_args: object, **_kwargs: object) -> dict[str, torch.Tensor]:
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(
        torchvision.models.ResNet18_Weights.IMAGENET1K_V1.__class__, "get_state_dict", offline
    )
    with pytest.raises(InitError, match="--init scratch"):
        initial_model("imagenet", "resnet18")


def test_init_from_a_local_safetensors_state_dict(tmp_path: Path) -> None:
    imagenet_shaped = torchvision.models.resnet18(weights=None)  # a 1000-class head, as downloaded
    safetensors.torch.save_file(imagenet_shaped.state_dict(), str(tmp_path / "r18.safetensors"))
    model = initial_model(str(tmp_path / "r18.safetensors"), "resnet18")
    assert torch.equal(model.state_dict()["conv1.weight"], imagenet_shaped.state_dict()["conv1.weight"])
    assert model.fc.out_features == 2
    torch.save(build_model("resnet18").state_dict(), tmp_path / "r18.pth")
    with pytest.raises(InitError, match="refusing to unpickle"):
        initial_model(str(tmp_path / "r18.pth"), "resnet18")
    with pytest.raises(InitError, match="not a torchvision resnet34"):
        initial_model(str(tmp_path / "r18.safetensors"), "resnet34")


class Killed(Exception):
    """Stands in for a SIGKILL: raised from the progress log, so nothing after it runs."""


def test_a_killed_run_resumes_from_its_last_mid_epoch_save(tiny: TinyData, tmp_path: Path) -> None:
    straight = run(tiny, tmp_path / "straight", max_steps=7, precision="fp32")

    def log(message: str) -> None:
        if message.startswith("epoch 2/3 batch 2/3"):  # step 5, logged before its save would run
            raise Killed

    with pytest.raises(Killed):
        run(tiny, tmp_path / "killed", log=log, save_every=0.0, precision="fp32")
    resumed = run(tiny, tmp_path / "killed", data=(), resume=True, max_steps=7, precision="fp32")
    assert [s[0] for s in resumed.state.steps] == list(range(1, 8))  # step 5 done again, after 4
    assert resumed.state.steps == straight.state.steps


def test_training_precision_follows_the_device() -> None:
    cpu = torch.device("cpu")
    assert training_precision("auto", cpu) == (torch.bfloat16 if cpu_has_native_bf16() else None)
    assert training_precision("fp32", cpu) is None
    assert training_precision("bf16", cpu) == torch.bfloat16
    with pytest.raises(ValueError, match="fp16 training needs CUDA"):
        training_precision("fp16", cpu)
    with pytest.raises(ValueError, match="unknown precision"):
        training_precision("int4", cpu)


def test_bf16_and_fp32_training_both_learn(tiny: TinyData, tmp_path: Path) -> None:
    recipe = Recipe(arch="resnet18", epochs=6, batch_size=12, lr=1e-3, input_size=32, warmup_epochs=1.0)
    for precision in ("fp32", "bf16"):
        result = run(tiny, tmp_path / precision, recipe, precision=precision)
        losses = [step[2] for step in result.state.steps]
        assert np.mean(losses[-3:]) < 0.7 * losses[0], precision
        assert load_checkpoint(tmp_path / precision / "best")[1].extra["hardware"]["precision"] == (
            "bfloat16" if precision == "bf16" else "float32"
        )


@pytest.mark.parametrize(("arch", "last_bn"), [("resnet18", "bn2"), ("resnet101", "bn3")])
def test_scratch_blocks_start_as_the_identity(arch: str, last_bn: str) -> None:
    model = initial_model("scratch", arch).eval()
    block = model.layer2[1]  # not the first block of a stage: no downsampling shortcut
    x = torch.randn(1, block.conv1.in_channels, 8, 8).relu()
    assert torch.count_nonzero(getattr(block, last_bn).weight) == 0
    assert torch.allclose(block(x), x)  # relu(0 + x) = x for x >= 0


def test_resume_can_lengthen_a_run(tiny: TinyData, tmp_path: Path) -> None:
    run(tiny, tmp_path, max_steps=4)  # 3 epochs of 3 steps planned
    longer = run(tiny, tmp_path, data=(), resume=True, resume_epochs=4)
    assert longer.finished and len(longer.state.epochs) == 4 and longer.state.step == 12
    lrs = [step[4] for step in longer.state.steps]
    assert lrs[4] == pytest.approx(lr_at(4, 12, 3, SMALL.lr)) and lrs[-1] < 0.1 * SMALL.lr
    assert load_checkpoint(tmp_path / "best")[1].extra["recipe"]["epochs"] == 4
    assert json.loads((tmp_path / "history.json").read_text())["recipe"]["epochs"] == 4
