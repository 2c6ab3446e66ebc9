from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srgan.models import vgg
from srgan.models.squeezenet import SqueezeNetFeatures
from srgan.models.vgg import VGG19Features
from srgan.models.weights import WeightsError, WeightsSpec, resolve_weights

from .conftest import shared_path


def torchvision_layout_vgg19_state() -> dict[str, torch.Tensor]:
    """A full VGG19 state_dict in torchvision's key layout (features + classifier), random values."""
    full = VGG19Features(layer="pool5", weights=None)
    state = {k: v.clone() for k, v in full.state_dict().items()}
    state["classifier.0.weight"] = torch.randn(4096, 512 * 7 * 7)
    state["classifier.0.bias"] = torch.randn(4096)
    return state


def test_vgg_layer_names_follow_torchvision_indices() -> None:
    assert vgg.layer_index("VGG22") == 8
    assert vgg.layer_index("VGG54") == 35
    assert vgg.layer_index("relu5_4") == 35
    assert vgg.layer_index("conv1_1") == 0
    assert vgg.layer_index(36) == 36 and vgg.layer_names()[36] == "pool5"
    with pytest.raises(ValueError, match="unknown VGG19 layer"):
        vgg.layer_index("relu6_1")


def test_vgg_builds_only_the_layers_needed() -> None:
    assert len(VGG19Features("VGG22", weights=None).features) == 9
    assert len(VGG19Features("VGG54", weights=None).features) == 36


def test_vgg_loads_torchvision_layout_file(tmp_path: Path) -> None:
    state = torchvision_layout_vgg19_state()
    file = tmp_path / "vgg19-dcbb9e9d.pth"
    torch.save(state, file)
    net = VGG19Features("VGG54", weights=file)
    for key, value in net.state_dict().items():
        assert torch.equal(value, state[key]), key
    x = torch.rand(1, 3, 32, 32)
    # The same computation by hand from the file's tensors, with ImageNet normalisation.
    h = (x - torch.tensor(vgg.IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(vgg.IMAGENET_STD).view(1, 3, 1, 1)
    h = torch.relu(torch.nn.functional.conv2d(h, state["features.0.weight"], state["features.0.bias"], padding=1))
    torch.testing.assert_close(net.features[:2](net.preprocess(x)), h)


def test_vgg_rejects_a_file_of_another_network(tmp_path: Path) -> None:
    file = tmp_path / "other.pth"
    torch.save({"features.0.weight": torch.zeros(8, 3, 3, 3)}, file)
    with pytest.raises(WeightsError, match="lacks"):
        VGG19Features("VGG22", weights=file)


def test_perceptual_networks_are_frozen() -> None:
    net = VGG19Features("VGG22", weights=None)
    net.train()
    assert not net.training
    assert all(not p.requires_grad for p in net.parameters())


@pytest.fixture()
def hub_dir(tmp_path: Path) -> Iterator[Path]:
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield tmp_path / "hub" / "checkpoints"
    torch.hub.set_dir(old)


def test_offline_error_names_the_file_and_where_to_put_it(hub_dir: Path) -> None:
    with pytest.raises(WeightsError) as info:
        VGG19Features("VGG54", weights="imagenet", download=False)
    message = str(info.value)
    assert "vgg19-dcbb9e9d.pth" in message
    assert str(hub_dir / "vgg19-dcbb9e9d.pth") in message
    assert "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth" in message


def test_unreachable_url_error_names_the_file(hub_dir: Path) -> None:
    spec = WeightsSpec("w.pth", "http://127.0.0.1:9/w.pth", "00")  # port 9: nothing listens
    with pytest.raises(WeightsError, match=r"could not download w\.pth.*place it at"):
        resolve_weights(spec)
    assert not (hub_dir / "w.pth").exists()


@pytest.fixture()
def local_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()


def test_download_checks_the_hash_and_caches(hub_dir: Path, local_server: tuple[str, Path]) -> None:
    url, root = local_server
    state = torchvision_layout_vgg19_state()
    torch.save(state, root / "vgg19.pth")
    digest = hashlib.sha256((root / "vgg19.pth").read_bytes()).hexdigest()

    bad = WeightsSpec("bad.pth", f"{url}/vgg19.pth", "ffffffff" if not digest.startswith("ff") else "00000000")
    with pytest.raises(WeightsError, match="sha256"):
        resolve_weights(bad)
    assert not (hub_dir / "bad.pth").exists()

    good = WeightsSpec("good.pth", f"{url}/vgg19.pth", digest[:8])
    path = resolve_weights(good)
    assert path == hub_dir / "good.pth" and path.read_bytes() == (root / "vgg19.pth").read_bytes()
    (root / "vgg19.pth").unlink()  # now served from the cache, no network needed
    assert resolve_weights(good) == path


def test_squeezenet_loads_the_shared_imagenet_file() -> None:
    file = shared_path("weights", "squeezenet1_0-deepcompression.pth")
    net = SqueezeNetFeatures("fire9", weights=file)
    state = torch.load(file, map_location="cpu", weights_only=True)
    for key, value in net.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert net.caffe_input


def test_squeezenet_caffe_preprocessing_classifies_the_pepper() -> None:
    """With the Caffe input convention the shared network recognises Set14's pepper.png as
    ImageNet class 945 (bell pepper); with RGB order or no mean it would not be a fair test
    of our preprocessing, so this pins the convention."""
    file = shared_path("weights", "squeezenet1_0-deepcompression.pth")
    image = (
        Image.open(shared_path("data", "benchmark", "Set14", "pepper.png"))
        .convert("RGB")
        .resize((227, 227), Image.BILINEAR)
    )
    x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
    net = SqueezeNetFeatures("fire9", weights=file)
    state = torch.load(file, map_location="cpu", weights_only=True)
    with torch.no_grad():
        logits = torch.relu(
            torch.nn.functional.conv2d(net(x), state["classifier.1.weight"], state["classifier.1.bias"])
        ).mean((2, 3))
    assert logits.argmax().item() == 945
    assert torch.softmax(logits, 1)[0, 945] > 0.5


def test_squeezenet_input_upsample_makes_a_pixel_checkerboard_visible() -> None:
    """The reason configs/srgan_x4.yaml uses input_upsample 2: SqueezeNet's stride-2 first
    convolution barely sees a pixel checkerboard, so a loss on it cannot stop a generator from
    drawing one."""
    file = shared_path("weights", "squeezenet1_0-deepcompression.pth")
    image = Image.open(shared_path("data", "benchmark", "Set14", "baboon.png")).convert("RGB")
    x = torch.from_numpy(np.array(image, dtype=np.float32)[:128, :128] / 255.0).permute(2, 0, 1)[None]
    i = torch.arange(128)
    checker = (-1.0) ** (i[:, None] + i[None, :])
    smooth = torch.nn.functional.interpolate(torch.randn(1, 1, 16, 16), size=(128, 128), mode="bicubic")[0, 0]

    def response(net: SqueezeNetFeatures, pattern: torch.Tensor) -> float:
        with torch.no_grad():
            return float(((net(x + 0.03 * pattern / pattern.std()) - net(x)) ** 2).mean())

    ratios = []
    for k in (1, 2):
        net = SqueezeNetFeatures("fire9", weights=file, input_upsample=k)
        ratios.append(response(net, checker) / response(net, smooth))
    assert ratios[0] < 0.01, "without upsampling the checkerboard should be nearly invisible"
    assert ratios[1] > 30 * ratios[0]
