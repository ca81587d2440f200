"""`memebot evaluate`: metrics against hand-computed values, then the report end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bot.cli import main
from classifier.training import metrics
from tests.training.tinydata import TinyData, make_tiny_data

# Three memes, three non-memes. Sorted by score: 0.9 M, 0.8 M, 0.7 N, 0.4 M, 0.2 N, 0.1 N.
Y = np.array([1, 1, 1, 0, 0, 0], dtype=bool)
S = np.array([0.9, 0.8, 0.4, 0.7, 0.2, 0.1])
HARD = np.array([False, False, False, True, True, False])  # two text-bearing non-memes


def test_headline_metrics_at_the_bots_threshold() -> None:
    m = metrics.at_threshold(Y, S)
    assert m["confusion"] == {"tp": 2, "fp": 1, "fn": 1, "tn": 2}
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3) and m["false_positive_rate"] == pytest.approx(1 / 3)


def test_roc_auc_counts_ordered_pairs_and_half_ties() -> None:
    # 9 meme/non-meme pairs; only (0.4 meme, 0.7 non-meme) is in the wrong order.
    assert metrics.roc_auc(Y, S) == pytest.approx(8 / 9)
    assert metrics.roc_auc(np.array([1, 0, 1, 0], dtype=bool), np.array([0.5, 0.5, 0.9, 0.1])) == 0.875
    assert metrics.roc_auc(np.array([1, 1], dtype=bool), np.array([0.2, 0.3])) is None


def test_roc_and_precision_recall_curves() -> None:
    fpr, tpr, thresholds = metrics.roc_curve(Y, S)
    np.testing.assert_allclose(tpr, [0, 1 / 3, 2 / 3, 2 / 3, 1, 1, 1])
    np.testing.assert_allclose(fpr, [0, 0, 0, 1 / 3, 1 / 3, 2 / 3, 1])
    assert thresholds[0] == np.inf and thresholds[-1] == 0.1
    assert np.trapezoid(tpr, fpr) == pytest.approx(8 / 9)  # the curve's area is the AUC
    precision, recall, _ = metrics.pr_curve(Y, S)
    np.testing.assert_allclose(precision, [1, 1, 1, 2 / 3, 3 / 4, 3 / 5, 1 / 2])
    np.testing.assert_allclose(recall, [0, 1 / 3, 2 / 3, 2 / 3, 1, 1, 1])
    assert metrics.average_precision(Y, S) == pytest.approx((1 + 1 + 3 / 4) / 3)


def test_threshold_sweep() -> None:
    rows = {r["threshold"]: r for r in metrics.sweep(Y, S, HARD, thresholds=(0.5, 0.75, 0.85))}
    assert rows[0.5]["hard_negatives_called_meme"] == 0.5  # 0.7 is called a meme, 0.2 is not
    assert rows[0.75]["confusion"] == {"tp": 2, "fp": 0, "fn": 1, "tn": 3}
    assert rows[0.75]["precision"] == 1.0 and rows[0.75]["hard_negatives_called_meme"] == 0.0
    assert rows[0.85]["recall"] == pytest.approx(1 / 3)
    # A memes-only channel at 0.75 removes images with P(not_meme) >= 0.75: the 0.2 and 0.1 ones.
    assert rows[0.75]["memes_removed"] == 0.0 and rows[0.75]["non_memes_removed"] == pytest.approx(2 / 3)


def test_breakdown_per_group() -> None:
    groups = ["a", "a", "b", "b", "a", "b"]
    out = metrics.breakdown(groups, Y, S, HARD)
    assert out["a"] == pytest.approx(
        {"images": 3, "memes": 2, "accuracy": 1.0, "called_meme": 2 / 3, "mean_score": 1.9 / 3}
        | {"hard_negatives": 1, "hard_negatives_called_meme": 0.0}  # 0.2: not a meme
    )
    assert out["b"]["accuracy"] == pytest.approx(1 / 3) and out["b"]["called_meme"] == pytest.approx(1 / 3)
    assert out["b"]["hard_negatives_called_meme"] == 1.0  # the 0.7 one


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> TinyData:
    return make_tiny_data(tmp_path_factory.mktemp("tiny"))


def evaluate_argv(checkpoint: Path, data: object, split: str) -> list[str]:
    return ["evaluate", "--checkpoint", str(checkpoint), "--data", str(data), "--split", split]


def test_evaluate_writes_metrics_report_and_plots(
    tiny: TinyData, bright_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    steps = [[1, 0.5, 0.9, 0.5, 1e-3], [2, 1.0, 0.4, 1.0, 5e-4]]
    epochs = [{"epoch": 1, "train_loss": 0.4, "train_accuracy": 1.0, "val_loss": 0.3, "val_accuracy": 1.0}]
    (run / "history.json").write_text(json.dumps({"steps": steps, "epochs": epochs}))
    out = tmp_path / "eval"
    argv = evaluate_argv(bright_checkpoint, str(tiny.manifest), "all")
    assert main([*argv, "--out", str(out), "--run", str(run), "--device", "cpu", "--workers", "0"]) == 0
    assert "16 images: accuracy 1.0000" in capsys.readouterr().out
    result = json.loads((out / "metrics.json").read_text())
    assert result["headline"]["roc_auc"] == 1.0 and result["headline"]["confusion"]["tp"] == 8
    assert set(result["per_source"]) == {"memotion", "documents", "scenes"}
    assert result["headline"]["hard_negatives"] == 4 and result["headline"]["hard_negatives_called_meme"] == 0
    assert result["model"]["model_version"] == "brightness-test" and len(result["sweep"]) == len(
        metrics.SWEEP
    )
    report = (out / "report.md").read_text()
    for heading in ("## Headline", "## Targets", "## Per source", "## Threshold sweep", "![ROC](roc.png)"):
        assert heading in report
    for name in ("roc.png", "pr.png", "confusion.png", "sweep.png", "training.png"):
        with Image.open(out / name) as picture:
            picture.verify()
            assert picture.format == "PNG"
    assert len((out / "predictions.csv").read_text().splitlines()) == 17


def test_evaluate_on_an_empty_split_says_so(
    tiny: TinyData, bright_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = evaluate_argv(bright_checkpoint, f"{tiny.export_zip}", "test")
    assert main([*argv, "--out", str(tmp_path), "--device", "cpu"]) == 2
    assert "no images in the 'test' split" in capsys.readouterr().err


def test_evaluate_in_the_precision_the_bot_would_serve(
    tiny: TinyData, bright_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = evaluate_argv(bright_checkpoint, str(tiny.manifest), "all")
    assert main([*argv, "--out", str(tmp_path), "--device", "cpu", "--precision", "bf16"]) == 0
    assert "16 images: accuracy 1.0000" in capsys.readouterr().out
    assert json.loads((tmp_path / "metrics.json").read_text())["model"]["precision"] == "bfloat16"
    with pytest.raises(SystemExit):
        main([*argv, "--out", str(tmp_path), "--precision", "fp8"])
