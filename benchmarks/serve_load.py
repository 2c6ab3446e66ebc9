"""A bounded load test of ``srgan serve`` on 127.0.0.1: N concurrent small uploads at once.

Starts ``srgan serve`` in a subprocess on a free loopback port (the paper generator, seeded random
weights, unless --model is given), fires N uploads at the same moment, then follows every accepted
job to the end. Reports how many were accepted (202) or turned away (503 + Retry-After), upload
latency, how long the accepted jobs took, and the latency of a cheap request while the queue was
full. Everything is bounded: N requests, a 120 s deadline, and the server is stopped at the end.

    python benchmarks/serve_load.py [--requests 50] [--size 64] [--workers 1] [--queue 8]
    python benchmarks/serve_load.py --smoke    # 3 uploads of 16x16 to a 2-block generator: checks the script runs
"""

from __future__ import annotations

import argparse
import concurrent.futures
import io
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import table
from srgan.modelfiles.safetensors import save_generator
from srgan.models import Generator
from srgan.models.generator import GeneratorConfig


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--size", type=int, default=64, help="side of the square test image, pixels")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--queue", type=int, default=8)
    parser.add_argument("--model", help="model to serve (default: seeded random paper generator)")
    parser.add_argument("--smoke", action="store_true", help="3 uploads of 16x16 to a 2-block generator, queue 2")
    args = parser.parse_args()
    if args.smoke:
        args.requests, args.size, args.queue = 3, 16, 2
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            torch.manual_seed(0)
            g = Generator.from_config(GeneratorConfig(num_blocks=2 if args.smoke else 16)).eval()
            model = str(Path(tmp) / "paper.safetensors")
            save_generator(model, g.state_dict(), g.config)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "srgan",
                "serve",
                "--port",
                str(port),
                "--model",
                model,
                "--workers",
                str(args.workers),
                "--queue",
                str(args.queue),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            for _ in range(200):
                try:
                    httpx.get(f"{url}/api/models", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            buf = io.BytesIO()
            rgb = np.random.default_rng(0).integers(0, 256, (args.size, args.size, 3), dtype=np.uint8)
            Image.fromarray(rgb).save(buf, "PNG")
            body = buf.getvalue()

            def post(_: int) -> tuple[int, float, httpx.Response]:
                t = time.perf_counter()
                r = httpx.post(f"{url}/api/upscale", files={"file": ("a.png", body, "image/png")}, timeout=60)
                return r.status_code, time.perf_counter() - t, r

            start = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(max_workers=args.requests) as pool:
                results = list(pool.map(post, range(args.requests)))
            t = time.perf_counter()
            probe_ok = httpx.get(f"{url}/api/models", timeout=10).status_code == 200
            probe = time.perf_counter() - t
            accepted = [r.json()["id"] for code, _, r in results if code == 202]
            finished: dict[str, float] = {}
            deadline = time.time() + 120
            while len(finished) < len(accepted) and time.time() < deadline:
                for job_id in accepted:
                    if job_id not in finished:
                        status = httpx.get(f"{url}/api/jobs/{job_id}", timeout=10).json()["status"]
                        if status in ("done", "failed"):
                            finished[job_id] = time.perf_counter() - start
                time.sleep(0.05)
            after_ok = httpx.get(f"{url}/api/models", timeout=10).status_code == 200
        finally:
            server.terminate()
            server.wait(10)
    codes = [c for c, _, _ in results]
    latencies = [lat for _, lat, _ in results]
    retry_after = all(r.headers.get("retry-after") for c, _, r in results if c == 503)
    rows = [
        ["requests sent at once", str(args.requests)],
        [
            "202 accepted / 503 busy / other",
            f"{codes.count(202)} / {codes.count(503)} / {len(codes) - codes.count(202) - codes.count(503)}",
        ],
        ["503s carrying Retry-After", "all" if retry_after else "NOT all"],
        [
            "upload answer latency p50 / p95 / max (s)",
            f"{pct(latencies, 50):.3f} / {pct(latencies, 95):.3f} / {max(latencies):.3f}",
        ],
        ["GET /api/models while loaded (s)", f"{probe:.3f} ({'ok' if probe_ok else 'FAILED'})"],
        ["accepted jobs finished / hung", f"{len(finished)} / {len(accepted) - len(finished)}"],
        ["last accepted job done after (s)", f"{max(finished.values()):.2f}" if finished else "-"],
        ["server responsive afterwards", "yes" if after_ok else "NO"],
    ]
    print(f"srgan serve load test: {args.size}x{args.size} PNG uploads, --workers {args.workers} --queue {args.queue}")
    print(table(["measure", "value"], rows))


if __name__ == "__main__":
    main()
