"""What each file of the hostile corpus (tests/hostile.py) costs the bot's decoder: time to a verdict's
input or to its refusal, and peak memory, each file in a fresh process. Prints the "Limits" table of
docs/architecture.md and writes the numbers as JSON.

    python scripts/limits_table.py [--out docs/bench/limits.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.hostile import CASES, write_corpus  # noqa: E402

# One file, in a process of its own: RSS before and at the peak, and the time decoding took.
PROBE = r"""
import json, sys, time
from classifier.errors import InvalidImage
from classifier.model import load_meta
from classifier.preprocess import preprocess
from classifier.service import ClassifierSettings, decode_limits

limits = decode_limits(ClassifierSettings())
def high_water_mib():  # VmHWM: this process's own peak (ru_maxrss carries the parent's across exec)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024

meta = load_meta(sys.argv[2])
data = open(sys.argv[1], "rb").read()
before = high_water_mib()
start = time.perf_counter()
try:
    frames = preprocess(data, meta, limits)
    outcome = f"judged on {frames.shape[0]} frame(s)"
except InvalidImage as error:
    outcome = f"refused: {error}"
seconds = time.perf_counter() - start
peak = high_water_mib()
print(json.dumps({"seconds": seconds, "rss_before_mib": before, "peak_rss_mib": peak,
                  "outcome": outcome}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "bench" / "limits.json")
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "classifier" / "models" / "default")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, path in write_corpus(Path(folder)).items():
            done = subprocess.run(
                [sys.executable, "-c", PROBE, str(path), str(args.checkpoint)],
                capture_output=True, text=True, cwd=ROOT, check=True,
            )  # fmt: skip
            row = {
                "case": name,
                "what": CASES[name][0],
                "bytes": path.stat().st_size,
                **json.loads(done.stdout),
            }
            rows.append(row)
    print("| case | file | outcome | decode time | peak RSS (before) |")
    print("|---|---|---|---|---|")
    for r in rows:
        size = f"{r['bytes'] / 1024:.0f} KB" if r["bytes"] < 1 << 20 else f"{r['bytes'] / (1 << 20):.1f} MB"
        print(
            f"| {r['what']} | {size} | {r['outcome']} | {1000 * r['seconds']:.0f} ms | "
            f"{r['peak_rss_mib']:.0f} MiB ({r['rss_before_mib']:.0f}) |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
