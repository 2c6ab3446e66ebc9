"""Turn a finished training run into a bundled model: weights + card in src/srgan/weights/.

    python scripts/release/bundle_model.py --name srresnet-x4 --checkpoint RUN/checkpoints/ckpt_00016000.pt \
        --recipe configs/srresnet_x4.yaml --data ../shared/data/benchmark/{Set5,Set14,BSD100}

Steps: export the generator (EMA weights when the checkpoint has them); keep fp16 storage only if
it moves PSNR-Y by less than 0.01 dB on every dataset; run `srgan eval` on the exported file
(its JSON goes to docs/results/<name>.eval.json); write the card <name>.json with the sha256 and
the metrics, which `srgan models` prints and loading checks.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

import torch

from srgan.cli import main as srgan_main
from srgan.evaluation.protocol import evaluate_folder
from srgan.modelfiles.loader import load_generator
from srgan.modelfiles.safetensors import save_generator

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = ROOT / "src" / "srgan" / "weights"
RESULTS = ROOT / "docs" / "results"
FP16_TOLERANCE_DB = 0.01


def mean_psnr(model_file: Path, folder: Path, scale: int) -> float:
    g = load_generator(model_file, scale=scale)
    with torch.inference_mode():
        report = evaluate_folder(folder, lambda lr: g(lr.float()), scale, with_niqe=False)
    value = report.mean("psnr_y")
    assert value is not None
    return value


def checkpoint_iteration(path: Path) -> int:
    """The iteration a training checkpoint was saved at; 0 for a model file (an export, a blend)."""
    if path.suffix != ".pt":
        return 0
    return int(torch.load(path, map_location="cpu", weights_only=True)["iteration"])


def choose_storage(checkpoint: Path, tmp: Path, folders: list[Path]) -> tuple[Path, str, float]:
    """fp16 if it changes mean PSNR-Y by < 0.01 dB on every folder, else fp32."""
    g = load_generator(checkpoint)
    files = {}
    for dtype, tag in ((torch.float32, "fp32"), (torch.float16, "fp16")):
        files[tag] = tmp / f"{tag}.safetensors"
        save_generator(files[tag], g.state_dict(), g.config, extra={"source": checkpoint.name}, dtype=dtype)
    worst = max(
        abs(mean_psnr(files["fp16"], f, g.config.scale) - mean_psnr(files["fp32"], f, g.config.scale)) for f in folders
    )
    tag = "fp16" if worst < FP16_TOLERANCE_DB else "fp32"
    print(f"fp16 storage moves mean PSNR-Y by at most {worst:.4f} dB -> storing {tag}")
    return files[tag], tag, worst


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--name", required=True)
    p.add_argument(
        "--checkpoint",
        required=True,
        type=Path,
        help="a training checkpoint, or a model file such as an `srgan export --strength` blend of two runs",
    )
    p.add_argument("--recipe", required=True, help="the config the run used (recorded in the card)")
    p.add_argument("--data", nargs="+", required=True, type=Path, help="benchmark folders (Set5 first)")
    p.add_argument("--summary", default="", help="one line for the card: what the model is")
    p.add_argument("--base", help="the bundled PSNR model it was fine-tuned from (--strength blends towards it)")
    p.add_argument(
        "--prior-iterations",
        type=int,
        default=0,
        help="iterations of the earlier run(s) this run was initialised from (train.init_from); for a model "
        "file that is not a checkpoint, all of its iterations",
    )
    args = p.parse_args()

    iterations = args.prior_iterations + checkpoint_iteration(args.checkpoint)
    with tempfile.TemporaryDirectory() as tmp:
        chosen, storage, fp16_delta = choose_storage(args.checkpoint, Path(tmp), args.data)
        target = WEIGHTS / f"{args.name}.safetensors"
        shutil.copyfile(chosen, target)
    RESULTS.mkdir(parents=True, exist_ok=True)
    eval_json = RESULTS / f"{args.name}.eval.json"
    code = srgan_main(
        ["eval", "--model", str(target), "--scale", "4", "--json", str(eval_json), "--data", *map(str, args.data)]
    )
    if code != 0:
        return code
    evaluation = json.loads(eval_json.read_text())
    evaluation["model"] = args.name  # not this machine's absolute path
    eval_json.write_text(json.dumps(evaluation, indent=2) + "\n")
    card = {
        "name": args.name,
        "scale": load_generator(target).config.scale,
        "summary": args.summary,
        "sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
        "storage": storage,
        "fp16_max_psnr_change_db": round(fp16_delta, 4),
        **({"base": args.base} if args.base else {}),
        "recipe": args.recipe,
        "iterations": iterations,
        "metrics": {
            d["dataset"]: {k: round(v, 4) for k, v in d["mean"].items() if v is not None}
            for d in evaluation["datasets"]
        },
        "protocol": evaluation["protocol"],
        "model_card": "docs/models.md",
    }
    (WEIGHTS / f"{args.name}.json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB) and its card")
    return 0


if __name__ == "__main__":
    sys.exit(main())
