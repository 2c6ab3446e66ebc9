"""Add (or refresh) the int8 calibration of a bundled model in place: its weights, storage dtype and
metadata stay as they are, the card's sha256 follows the new file (issue 17).

    python scripts/release/calibrate_bundled.py srresnet-x4 srgan-x4 --data ../shared/data/train/T91

The calibration is the one ``srgan export --int8-calibration`` computes (the same crops of the same
images), so a bundled model and an export of it quantise alike.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from srgan.archs.srresnet.fast import FastGenerator
from srgan.archs.srresnet.quantized import calibrate
from srgan.cli.export import calibration_images
from srgan.modelfiles.bundled import bundled_path
from srgan.modelfiles.loader import load_generator
from srgan.modelfiles.safetensors import WRITTEN_KEYS, read_safetensors, save_generator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="+")
    parser.add_argument("--data", type=Path, required=True, help="training photos (never a benchmark set)")
    args = parser.parse_args()
    images = calibration_images(args.data)
    for name in args.names:
        path = bundled_path(name)
        assert path is not None, f"{name} is not a bundled model"
        g = load_generator(path)
        state, meta = read_safetensors(path)
        ranges = calibrate(FastGenerator(g), images)
        keep = {k: v for k, v in meta.items() if k not in WRITTEN_KEYS}  # e.g. the source checkpoint's name
        keep["int8_calibration"] = f"{args.data.name}, {len(images)} crops"
        dtype = next(v.dtype for v in state.values() if v.is_floating_point())
        save_generator(path, state, g.config, extra=keep, dtype=dtype, int8_ranges=ranges)
        card_path = path.with_suffix(".json")
        card = json.loads(card_path.read_text())
        card["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
        card_path.write_text(json.dumps(card, indent=2) + "\n")
        print(f"{name}: {len(ranges)} input ranges from {len(images)} images of {args.data}; card sha256 updated")


if __name__ == "__main__":
    main()
