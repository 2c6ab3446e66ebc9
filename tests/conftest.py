from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import torch

from srgan.modelfiles.safetensors import save_generator
from srgan.models import Generator

SHARED = Path(__file__).resolve().parents[2] / "shared"
SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def load_script(name: str) -> Any:
    """A script under scripts/ (``name`` without ``.py``, e.g. ``release/ncnn_to_pth``) as a module."""
    import importlib.util
    import sys

    module_name = name.replace("/", "_")
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses look their module up while the script runs
    spec.loader.exec_module(module)
    return module


# A process's own peak memory in MiB, as a Python expression to print from a child process: VmHWM, the
# high-water mark of its resident pages since it started, less its file-backed pages (RssFile: the shared
# libraries' code, torch's about 75-135 MiB, depending on what the page cache already holds, so a fresh venv
# reads higher than a warm one for the same code). getrusage's ru_maxrss is no use here: a child started by
# vfork+exec inherits its parent's peak, here pytest's. Linux only.
OWN_PEAK_MIB = (
    "(lambda s: (s['VmHWM'] - s['RssFile']) // 1024)"
    "({l.split(':')[0]: int(l.split()[1]) for l in open('/proc/self/status') if l.startswith(('VmHWM', 'RssFile'))})"
)


def shared_path(*parts: str) -> Path:
    """A file in ../shared, or skip the test with the reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared is only beside the repo on the project's machines)")
    return path


def wait_done(client: Any, job_id: str, timeout: float = 60) -> dict[str, Any]:
    """Poll the web API (a fastapi TestClient) until the job is done or failed."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError("job did not finish")


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def trained_like(scale: int = 4, blocks: int = 2, channels: int = 16, seed: int = 0) -> Generator:
    """A small generator with non-trivial BatchNorm statistics, in eval mode."""
    torch.manual_seed(seed)
    g = Generator(scale=scale, num_blocks=blocks, channels=channels)
    g.train()
    with torch.no_grad():
        g(torch.rand(4, 3, 16, 16))
    return g.eval()


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "tiny-x2.safetensors"
    g = trained_like(scale=2)
    save_generator(path, g.state_dict(), g.config)
    return path


def blur_generator() -> Generator:
    """A linear x2 'generator': nearest-neighbour upscale, then a 5x5 box blur per channel.
    It mixes neighbouring colours like a real SR network does at edges."""
    g = Generator(scale=2, num_blocks=1, channels=4).eval()
    with torch.no_grad():
        for p in g.parameters():
            p.zero_()
        for c in range(3):
            g.head[0].weight[c, c, 4, 4] = 1.0
            for k in range(4):
                g.upsample[0].conv.weight[c * 4 + k, c, 1, 1] = 1.0
            g.tail.weight[c, c, 2:7, 2:7] = 1.0 / 25
        g.head[1].weight.fill_(1.0)
        g.upsample[0].act.weight.fill_(1.0)
    return g


def wait_for_server(url: str, tries: int = 200) -> None:
    """Poll ``url``/api/models until the server answers (a live uvicorn in a thread or a process)."""
    import time

    import httpx

    for _ in range(tries):
        try:
            httpx.get(f"{url}/api/models", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise AssertionError(f"the server at {url} did not start")


def start_serve(*args: str) -> tuple[Any, str]:
    """``srgan serve ARGS`` in a process of its own on a free loopback port: (the process, its URL)."""
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "srgan", "serve", "--port", str(port), *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    wait_for_server(url)
    return server, url


# torchrun with two CPU processes (gloo), one thread each: the command line before the script's own.
TORCHRUN_2 = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]


def torchrun_env() -> dict[str, str]:
    import os

    return {**os.environ, "OMP_NUM_THREADS": "1"}


# The smallest networks and batches the trainer accepts, so training tests take a second or two.
TINY_TRAINING = [
    "model.num_blocks=1",
    "model.channels=8",
    "data.patch_size=32",
    "train.batch_size=2",
    "run.tensorboard=false",
]
