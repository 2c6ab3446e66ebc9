"""Print the markdown ablation table of the srgan-x4 v2 pilots (scripts/experiments/v2_pilots.sh) from their Set14 JSONs.

python scripts/experiments/pilot_table.py /work/runs/pilots
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

CHANGES = {
    "P0_base": "- (v1 recipe without the lattice terms, all five training sets)",
    "P1_antialias": "perceptual net anti-aliased (blur before every subsampling)",
    "P2_sn_nobn": "D with spectral norm, no BatchNorm",
    "P3_ragan": "relativistic average adversarial loss",
    "P4_unet_ragan": "U-Net D (spectral norm, per-pixel) + relativistic loss",
    "P5_artifact1": "LDL-style artifact term, weight 1",
    "P6_fm0.05": "feature matching on D's features, weight 0.05",
    "P7_no_ema": "no EMA (the raw G is exported)",
    "P8_adv5e-4": "adversarial weight 5e-4 (half)",
}


def main() -> int:
    runs = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/pilots")
    print("| pilot | change from P0 | PSNR-Y | SSIM-Y | NIQE | Grid |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for name, change in CHANGES.items():
        path = runs / name / "set14.json"
        if not path.is_file():
            print(f"| {name} | {change} | (not run) | | | |")
            continue
        m = json.loads(path.read_text())["datasets"][0]["mean"]
        print(f"| {name} | {change} | {m['psnr_y']:.2f} | {m['ssim_y']:.4f} | {m['niqe']:.3f} | {m['grid']:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
