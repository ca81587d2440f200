"""Hashing, grouping, splitting, memegen configs, captions and the manifest formats."""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import pytest
from PIL import Image

from classifier.training.captions import clean_ocr, split_caption
from classifier.training.grouping import (
    GroupingRule,
    assign_groups,
    assign_splits,
    dedupe,
    hash_item,
    split_quota,
)
from classifier.training.hashing import UnionFind, dhash, hamming, near_pairs, phash
from classifier.training.manifest import ManifestError, read_folder_rows, read_manifest
from classifier.training.memegen import CLASSIC_BOXES, parse_template_config, read_template_config
from classifier.training.normalise import item_rng
from classifier.training.plan import SynthCounts
from classifier.training.sources import SourceItem, family_of, source_of
from tests.training.fakesource import TEMPLATE_YML, captioned, photo, reencoded, save


def _item(path: Path, role: str = "not_meme", family: str | None = None) -> SourceItem:
    return SourceItem(f"{path.parent.name}/{path.name}", path, path.parent.name, role, "photo", False, family)


def test_hashes_survive_reencoding_and_resizing_but_tell_pictures_apart() -> None:
    original = photo(1)
    copy = reencoded(original, scale=0.8, quality=50)
    assert hamming(phash(original), phash(copy)) <= 4
    assert hamming(dhash(original), dhash(copy)) < hamming(dhash(original), dhash(photo(2)))
    assert hamming(phash(original), phash(photo(2))) > 12


def test_near_pairs_and_union_find() -> None:
    import numpy as np

    values = np.array([0b0000, 0b0001, 0b1111_0000, 0b0011], dtype=np.uint64)
    assert sorted(near_pairs(values, 1)) == [(0, 1), (1, 3)]
    sets = UnionFind(4)
    for i, j in near_pairs(values, 1):
        sets.union(i, j)
    assert sets.find(3) == 0 and sets.find(2) == 2


def test_reencoded_copy_groups_with_its_original_even_when_kept(tmp_path: Path) -> None:
    save(photo(1), tmp_path / "a" / "one.jpg")
    save(reencoded(photo(1)), tmp_path / "b" / "copy.jpg")
    save(photo(2), tmp_path / "a" / "two.jpg")
    hashed = [hash_item(_item(p)) for p in sorted(tmp_path.rglob("*.jpg"))]
    keep_all = GroupingRule(dup_phash=-1, dup_dhash=-1)
    kept, dropped = dedupe(hashed, keep_all)
    assert len(kept) == 3 and not dropped
    groups = assign_groups(kept, keep_all)
    assert groups["a/one.jpg"] == groups["b/copy.jpg"] != groups["a/two.jpg"]


def test_same_base_picture_with_other_captions_shares_a_group(tmp_path: Path) -> None:
    base = photo(5, (128, 128))
    save(captioned(base, "FIRST TOP", "FIRST BOTTOM"), tmp_path / "m" / "one.jpg")
    save(captioned(base, "SECOND", "ANOTHER BOTTOM LINE"), tmp_path / "m" / "two.jpg")
    hashed = [hash_item(_item(p, "meme")) for p in sorted(tmp_path.rglob("*.jpg"))]
    kept, _ = dedupe(hashed, GroupingRule())
    groups = assign_groups(kept, GroupingRule())
    assert len(set(groups.values())) == 1


def test_families_share_a_group(tmp_path: Path) -> None:
    for i in range(3):
        save(photo(20 + i), tmp_path / "grocery" / f"milk_{i}.jpg")
    hashed = [hash_item(_item(p, family="grocery:milk")) for p in sorted(tmp_path.rglob("*.jpg"))]
    assert len(set(assign_groups(hashed, GroupingRule()).values())) == 1


def test_family_rules() -> None:
    assert family_of("documents", "marmot_10.1.1.1.2067_10", "x/y.pdf") == "10.1.1.1.2067"
    assert (
        family_of("grocery", "grocery_x_1", "dataset/train/Milk/Arla-Milk/a.jpg")
        == "dataset/train/Milk/Arla-Milk"
    )
    assert family_of("charts", "vegalite_bar_grouped_facet", "") == "vegalite:bar_grouped"
    assert family_of(
        "screenshots", "keepassxc_autotype_dialog", "docs/images/autotype_dialog_search.png"
    ) == ("keepassxc:autotype_dialog")
    assert family_of("people", "fmask_m_0_0_0_copy_25", "") == "fmask_m_0_0_0"
    assert family_of("imagenet_sample", "n01440764_tench", "") is None


def test_splits_are_stratified_by_source_and_close_to_80_10_10() -> None:
    groups = {f"{source}/{i}": [source] for source in ("a", "b") for i in range(200)}
    split_of = assign_splits(groups, seed=3)
    for source in ("a", "b"):
        counts = {
            s: sum(1 for g, sp in split_of.items() if g.startswith(source) and sp == s)
            for s in ("train", "val", "test")
        }
        assert counts == {"train": 160, "val": 20, "test": 20}
    assert assign_splits(groups, seed=3) == split_of
    small = assign_splits({f"g{i}": ["tiny"] for i in range(3)}, seed=0)
    assert sorted(small.values()) == ["test", "train", "val"]  # even three groups reach every split


def test_split_quota_sums_exactly() -> None:
    assert split_quota(7) == {"train": 5, "val": 1, "test": 1}
    assert sum(split_quota(1001).values()) == 1001
    assert split_quota(10, [2, 0, 0]) == {"train": 10, "val": 0, "test": 0}


def test_memegen_config_parsing() -> None:
    config = parse_template_config(TEMPLATE_YML)
    assert len(config.boxes) == 2
    assert config.boxes[1].anchor_y == pytest.approx(0.75)
    assert config.examples == ("top 'quoted' text", "- bottom text")


def test_missing_config_means_classic_top_and_bottom(tmp_path: Path) -> None:
    assert read_template_config(tmp_path / "none.yml").boxes == CLASSIC_BOXES


def test_ocr_captions_are_cleaned_and_split() -> None:
    assert clean_ocr("LOOK  AT   THIS imgflip.com and www.x.org now") == "LOOK AT THIS and now"
    assert split_caption("one two three four five") == ("one two three", "four five")


def test_item_rngs_are_private_and_seeded() -> None:
    assert item_rng(0, "k").random() == item_rng(0, "k").random() != item_rng(1, "k").random()
    assert item_rng(0, "k", "render").random() != item_rng(0, "k", "store").random()


def test_scaled_counts_keep_one_per_template() -> None:
    small = SynthCounts().scaled(0.01)
    assert small.macros_per_memegen == 1 and small.macros_per_blank == 1
    assert small.charts == 10


def test_plain_folders_load_as_rows(tmp_path: Path) -> None:
    for i in range(4):
        save(captioned(photo(40 + i), "A", "B"), tmp_path / "mine" / "meme" / f"m{i}.jpg")
        save(photo(50 + i), tmp_path / "mine" / "not_meme" / f"n{i}.png")
    (tmp_path / "mine" / "not_meme" / "broken.jpg").write_bytes(b"not an image")
    rows = read_folder_rows(tmp_path / "mine", split="train")
    assert len(rows) == 8 and {r.split for r in rows} == {"train"}
    assert {r.label for r in rows} == {"meme", "not_meme"}
    assert all(r.path.is_absolute() and r.path.exists() for r in rows)
    grouped = read_folder_rows(tmp_path / "mine")
    assert {r.split for r in grouped} == {"train", "val", "test"}


def test_empty_folder_and_bad_manifest_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no images"):
        read_folder_rows(tmp_path)
    (tmp_path / "manifest.csv").write_text("path,label\nx.jpg,meme\n")
    with pytest.raises(ManifestError, match="missing columns"):
        read_manifest(tmp_path)
    with pytest.raises(ManifestError):
        read_manifest(tmp_path / "nope.csv")


def test_low_resolution_is_given_to_each_label_in_the_same_share() -> None:
    from classifier.training.augment import Augmentation, lowres_chances, to_low_resolution

    aug = Augmentation(lowres_sources=("memotion",), lowres_share=0.3)
    sources = {"meme": ["memotion"] * 6 + ["synth_macro"] * 4, "not_meme": ["charts"] * 10}
    chances = lowres_chances(aug, sources)
    # The target: the memes' native 60% plus 30% of the rest = 72%; memes get there by degrading 30% of
    # their other pictures, non-memes by degrading 72% of theirs.
    assert chances["meme"] == pytest.approx(0.3) and chances["not_meme"] == pytest.approx(0.72)
    for label, share in chances.items():
        native = sources[label].count("memotion") / len(sources[label])
        assert native + (1 - native) * share == pytest.approx(0.72)
    assert lowres_chances(Augmentation(), sources) == {"meme": 0.0, "not_meme": 0.0}  # off by default

    img = Image.new("RGB", (224, 160), (200, 10, 10))
    out = to_low_resolution(img, random.Random(0), (64, 128))
    assert out.size == img.size  # the same size, less detail
    small = Image.new("RGB", (100, 60))
    assert to_low_resolution(small, random.Random(0), (128, 128)) is small  # never sharper than it was


def test_a_wild_meme_made_from_a_training_photo_overlaps_training(tmp_path: Path) -> None:
    from classifier.training.grouping import overlapping_wild

    save(photo(1), tmp_path / "imagenet_sample" / "cat.jpg")
    save(photo(2), tmp_path / "imagenet_sample" / "dog.jpg")
    save(captioned(reencoded(photo(1)), "ME", "ALSO ME"), tmp_path / "memes_reddit" / "wholesome_1.jpg")
    save(photo(3), tmp_path / "memes_reddit" / "wholesome_2.jpg")
    items = [
        dataclasses.replace(
            _item(p, "meme" if "memes" in str(p) else "not_meme"), source=source_of(p.parent.name, p.stem)
        )
        for p in sorted(tmp_path.rglob("*.jpg"))
    ]
    assert [i.wild for i in items] == [False, False, True, True]
    hashed = [hash_item(i) for i in items]
    assert overlapping_wild(hashed, GroupingRule()) == {
        "memes_reddit/wholesome_1.jpg": "imagenet_sample/cat.jpg"
    }


def test_temperature_scaling_recovers_a_known_temperature_and_keeps_verdicts() -> None:
    import numpy as np

    from classifier.training import calibration

    rng = np.random.default_rng(0)
    z = rng.normal(0, 6, 20_000)  # overconfident logits: the truth follows z / 2.5
    is_meme = rng.random(z.size) < 1 / (1 + np.exp(-z / 2.5))
    fitted = calibration.fit_temperature(z, is_meme)
    assert fitted == pytest.approx(2.5, rel=0.05)
    before = calibration.reliability(calibration.with_temperature(z, 1.0), is_meme)
    after = calibration.reliability(calibration.with_temperature(z, fitted), is_meme)
    assert after["ece"] < 0.02 < before["ece"]
    p = calibration.with_temperature(z, 1.0)
    sure = np.abs(z) < 12  # past that, P(meme) is clipped at 1e-7 of 0 or 1
    assert np.allclose(calibration.logits(p)[sure], z[sure], atol=1e-4)  # probabilities back to logits
    assert np.array_equal(p >= 0.5, calibration.with_temperature(z, fitted) >= 0.5)  # same verdicts
    acted = calibration.acted_on(p, is_meme, 0.8)
    assert 0 < acted["wrong_share_of_acted_on"] < 1 and acted["acted_on"] == int(((1 - p) >= 0.8).sum())


def test_memebot_calibrate_writes_the_temperature_that_the_bot_then_applies(
    tmp_path: Path, bright_checkpoint: Path
) -> None:
    import shutil

    import torch

    from classifier.model import InferenceModel, load_meta
    from classifier.training.commands import main
    from tests.modelfactory import grey_jpeg

    shutil.copytree(bright_checkpoint.parent, tmp_path / "ckpt")
    checkpoint = tmp_path / "ckpt" / bright_checkpoint.name
    for i in range(12):  # bright = meme, dark = not; mid-greys are the unsure ones
        for label, level in (("meme", 150 + 8 * i), ("not_meme", 30 + 8 * i)):
            (tmp_path / "data" / label).mkdir(parents=True, exist_ok=True)
            (tmp_path / "data" / label / f"{i}.jpg").write_bytes(grey_jpeg(level, noise_seed=i))
    args = ["calibrate", "--checkpoint", str(checkpoint), "--data", f"{tmp_path / 'data'}:val"]
    assert main([*args, "--report", "val", "--out", str(tmp_path / "out"), "--workers", "0"]) == 0
    temperature = load_meta(checkpoint).temperature
    written = json.loads((tmp_path / "out" / "calibration.json").read_text())
    assert temperature == pytest.approx(written["temperature"], rel=1e-5) and temperature != 1.0
    assert written["splits"]["val"]["after"]["nll"] <= written["splits"]["val"]["before"]["nll"]
    assert (tmp_path / "out" / "reliability-val.png").stat().st_size > 0
    batch = torch.zeros(1, 3, 64, 64)
    plain = InferenceModel.from_checkpoint(bright_checkpoint, "cpu", "fp32").predict(batch)
    scaled = InferenceModel.from_checkpoint(checkpoint, "cpu", "fp32").predict(batch)
    expected = (plain.log() / temperature).softmax(
        dim=1
    )  # log-probabilities differ from logits by a constant
    assert torch.allclose(scaled, expected, atol=1e-5)
