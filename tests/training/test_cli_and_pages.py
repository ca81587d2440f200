"""`memebot dataset build` end to end, and the choice of local HTML pages."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bot.cli import main
from classifier.training import charts, webpages
from classifier.training.manifest import read_manifest


def test_dataset_build_command_prints_the_summary(
    fake_source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a relative --out, as people type it
    argv = ["dataset", "build", "--source", str(fake_source), "--out", "ds", "--scale", "0"]
    assert main([*argv, "--no-chromium", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "memotion" in out and "imagenet_sample" in out and "= all" in out
    assert "templates held out" in out
    rows = read_manifest(tmp_path / "ds")
    assert rows and all(row.path.exists() for row in rows)


def test_charts_without_matplotlib_are_a_clear_error(
    fake_source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(charts, "available", lambda: False)
    argv = [
        "dataset",
        "build",
        "--source",
        str(fake_source),
        "--out",
        str(tmp_path / "ds"),
        "--scale",
        "0.01",
    ]
    assert main(argv) == 2
    assert "pip install 'memebot[train]'" in capsys.readouterr().err


def test_missing_source_exits_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "dataset",
            "build",
            "--source",
            str(tmp_path / "nowhere"),
            "--out",
            str(tmp_path / "o"),
            "--scale",
            "0",
        ]
    )
    assert code == 2
    assert "none of the known dataset folders" in capsys.readouterr().err


def _pages(tmp_path: Path) -> list[tuple[str, Path]]:
    for collection, folders, files in (("big", 6, 30), ("small", 1, 2)):
        for f in range(folders):
            for i in range(files):
                page = tmp_path / collection / f"f{f}" / f"p{i}.html"
                page.parent.mkdir(parents=True, exist_ok=True)
                page.write_text("<html><body>" + "<p>text</p>" * 400 + "</body></html>")
    (tmp_path / "big" / "stub.html").write_text("<html></html>")  # a redirect stub: too small
    return webpages.discover_html([tmp_path])


def test_pages_are_spread_over_collections_and_folders(tmp_path: Path) -> None:
    pages = _pages(tmp_path)
    assert len(pages) == 6 * 30 + 2
    chosen = webpages.choose_pages(pages, 8, random.Random(0))
    assert len(chosen) == len(set(chosen)) == 8
    assert sum("small" in str(p) for p in chosen) == 2  # the small doc set is not drowned out
    assert len({p.parent for p in chosen if "big" in str(p)}) == 6  # one page per folder first
    assert webpages.choose_pages(pages, 8, random.Random(0)) == chosen


FAKE_CHROMIUM = """#!{python}
import sys, zlib
from PIL import Image, ImageDraw
args = dict(a.split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
url = sys.argv[-1]
if "broken" in url:
    sys.exit(1)
width, height = 800, 600  # whatever the window: pages with one file name look the same
seed = zlib.crc32(url.rsplit("/", 1)[-1].encode())  # same file name, same picture
img = Image.new("RGB", (width, height), "white")
draw = ImageDraw.Draw(img)
for i in range(40):
    draw.text((10 + (seed >> (i % 16)) % 200, 20 * i), "page text %d" % (seed % (i + 7)), fill="black")
img.save(args["--screenshot"])
"""


def test_page_screenshots_are_cached_grouped_and_split(tmp_path: Path) -> None:
    import sys

    from classifier.training.pageshots import webpage_jobs

    fake = tmp_path / "chromium"
    fake.write_text(FAKE_CHROMIUM.format(python=sys.executable))
    fake.chmod(0o755)
    docs = tmp_path / "docs"
    names = ("one/a.html", "two/a.html", "three/b.html", "four/c.html", "five/broken.html", "six/d.html")
    for name in (*names, "seven/copy.html", "eight/redirect.html"):
        (docs / name).parent.mkdir(parents=True, exist_ok=True)
        (docs / name).write_text(f"<html><!-- {name} -->" + "x" * 4000 + "</html>")
    (docs / "seven/copy.html").write_bytes((docs / "four/c.html").read_bytes())  # same page, other place
    (docs / "eight/redirect.html").write_text('<meta http-equiv="refresh" content="0; url=http://x">' * 100)
    messages: list[str] = []
    jobs, renderer = webpage_jobs(8, 0, [docs], str(fake), tmp_path / "cache", messages.append)
    assert renderer == "chromium" and len(jobs) == 6  # the redirect and the byte-identical copy are skipped
    assert not any("redirect" in job.note for job in jobs)
    by_page = {job.note: job for job in jobs}
    mock = [job for job in jobs if job.renderer == "mock_page"]
    assert len(mock) == 1 and mock[0].note == "pillow mock-up"
    same = [job for job in jobs if job.note.endswith("/a.html")]
    assert len(same) == 2 and same[0].group == same[1].group  # one page shipped twice: one group
    assert len(list((tmp_path / "cache").glob("*.png"))) == 5
    again, _ = webpage_jobs(8, 0, [docs], str(fake), tmp_path / "cache", messages.append)
    assert again == jobs and by_page
