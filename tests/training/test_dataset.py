"""build_dataset on a fake source tree: splits, groups, templates, synthetic images, size rule, seeds."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import pytest
from PIL import Image

from classifier.training.dataset import DatasetError, Manifest
from classifier.training.grouping import WILD
from classifier.training.manifest import read_manifest
from classifier.training.sources import WILD_SOURCES
from tests.training.conftest import build_small

SYNTH_POSITIVES = ("synth_macro", "synth_photo_macro", "synth_caption_bar", "synth_multi_panel")
HARD_NEGATIVES = ("synth_document", "synth_poster", "synth_webpage", "synth_app_screen")


def test_no_group_straddles_splits(built: Manifest) -> None:
    splits_of_group: dict[str, set[str]] = defaultdict(set)
    for row in built.rows + built.ambiguous:
        splits_of_group[row.group].add(row.split)
    assert all(len(splits) == 1 for splits in splits_of_group.values())


def test_every_real_source_reaches_every_split(built: Manifest) -> None:
    for source in ("memotion", "imagenet_sample", "scenes", "people"):
        assert {r.split for r in built.rows if r.source == source} == {"train", "val", "test"}, source


def test_near_identical_copy_is_dropped_in_favour_of_the_first(built: Manifest) -> None:
    assert built.duplicates["scenes/bsds_copy.jpg"] == "imagenet_sample/image_0.jpg"
    assert not any(r.origin == "scenes/bsds_copy.jpg" for r in built.rows)


def test_memes_on_one_base_picture_share_a_group(built: Manifest) -> None:
    groups = {r.origin: r.group for r in built.rows if r.source == "memotion"}
    assert groups["memotion/image_100.jpg"] == groups["memotion/image_101.jpg"]


def test_templates_are_held_out_not_positives(built: Manifest) -> None:
    template_folders = {"memegen_templates", "blank_templates"}
    assert not any(r.source in template_folders for r in built.rows)
    assert {r.label for r in built.ambiguous} == {"template"}
    assert {r.source for r in built.ambiguous} == template_folders
    # The blank template that repeats memegen's tpl0 at another size is the same template: dropped.
    assert built.duplicates["blank_templates/Same-As-Tpl0.jpg"] == "memegen_templates/tpl0.jpg"


def test_synthetic_positives_and_hard_negatives_exist(built: Manifest) -> None:
    sources = Counter((r.source, r.label) for r in built.rows)
    for source in SYNTH_POSITIVES:
        assert sources[(source, "meme")] > 0, source
    for source in HARD_NEGATIVES:
        assert sources[(source, "not_meme")] > 0, source
    assert all(r.text_bearing for r in built.rows if r.source in HARD_NEGATIVES)


def test_synthetic_memes_stay_in_the_split_of_what_they_were_made_from(built: Manifest) -> None:
    split_of_group = {r.group: r.split for r in built.rows + built.ambiguous}
    real_group = {
        r.origin: r.group for r in built.rows + built.ambiguous if r.source == r.origin.split("/")[0]
    }
    for row in built.rows:
        if row.source in ("synth_caption_bar", "synth_photo_macro", "synth_macro"):
            assert row.group == real_group[row.origin], row
        if row.source == "synth_multi_panel":  # every panel comes from the meme's own split
            for name in row.origin.split("+"):
                assert split_of_group[real_group[name]] == row.split, row


def test_one_size_rule_for_every_class(built: Manifest) -> None:
    for row in (r for r in built.rows + built.ambiguous if r.split != WILD):
        with Image.open(row.path) as img:
            assert img.size == (row.width, row.height)
            assert img.mode == "RGB"
        assert max(row.width, row.height) == 128
    for label in ("meme", "not_meme"):
        rows = [r for r in built.rows if r.label == label]
        square = sum(r.width == r.height for r in rows) / len(rows)
        assert 0.25 < square < 0.75, (label, square)  # squareness cannot tell the classes apart


def test_memotion_squares_are_not_all_square_any_more(built: Manifest) -> None:
    shapes = {(r.width, r.height) for r in built.rows if r.source == "memotion"}
    assert (128, 128) in shapes
    assert len(shapes) > 1


def test_manifest_round_trips(built: Manifest) -> None:
    assert read_manifest(built.path) == built.rows
    assert read_manifest(built.path.parent) == built.rows


def test_same_seed_same_dataset(fake_source: Path, built: Manifest, tmp_path: Path) -> None:
    again = build_small(fake_source, tmp_path / "again")
    assert again.path.read_text() == built.path.read_text()
    first = next(r for r in built.rows if r.source == "synth_caption_bar")
    assert (
        tmp_path / "again" / first.path.relative_to(built.path.parent)
    ).read_bytes() == first.path.read_bytes()


def test_another_seed_another_split(fake_source: Path, built: Manifest, tmp_path: Path) -> None:
    other = build_small(fake_source, tmp_path / "other", seed=1)
    assert {r.group: r.split for r in other.rows} != {r.group: r.split for r in built.rows}


def test_refuses_a_folder_that_is_not_a_previous_build(fake_source: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match="not empty"):
        build_small(fake_source, tmp_path)


def test_missing_source_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="none of the known dataset folders"):
        build_small(tmp_path / "nowhere", tmp_path / "out")


def test_wild_sources_are_held_out_whole(built: Manifest) -> None:
    wild = [r for r in built.rows if r.split == WILD]
    assert {r.source for r in wild} == {
        "posters_covers/vhs",
        "memes_reddit/wholesome",
        "photos_people_places/stock",
    }
    assert {r.label for r in wild} == {"meme", "not_meme"}
    assert all(r.source in WILD_SOURCES for r in wild)
    # ...and none of their pictures is anywhere else: not in train/val/test, not inside a synthetic meme.
    for row in built.rows:
        if row.split != WILD:
            assert row.source not in WILD_SOURCES, row
            assert not any(
                part.split("/")[0] == "photos_people_places" and "stock" in part
                for part in row.origin.split("+")
            )
    assert {r.source for r in built.rows if r.split == "train"} >= {
        "posters_covers/steam",
        "memes_reddit/progmemes",
    }
    assert built.summary["totals"][WILD] == {"meme": 3, "not_meme": 6}


def test_a_wild_picture_that_copies_a_training_one_is_left_out(built: Manifest) -> None:
    assert "photos_people_places/stock_copy.jpg" not in {r.origin for r in built.rows}
    assert built.duplicates["photos_people_places/stock_copy.jpg"] == "imagenet_sample/image_1.jpg"


def test_wild_pictures_are_stored_as_people_post_them(fake_source: Path, built: Manifest) -> None:
    for row in (r for r in built.rows if r.split == WILD):
        assert row.path.read_bytes() == (fake_source / row.origin).read_bytes()
