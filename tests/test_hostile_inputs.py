"""Hostile inputs tried as an attacker would (issue 31): decompression bombs, EXIF traps, numbers that are
not numbers, folders where files belong. Each is refused with one sentence, the right exit status, no
traceback, nothing changed or left behind, and memory bounded by what is accepted."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import png
import pytest
from PIL import Image

from srgan.cli import main

from .conftest import OWN_PEAK_MIB
from .errors import fails_with_one_sentence

BOMB_SIDE = 20000  # 400 megapixels, 1.2 GB decoded as RGB, a few MB as a file


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def exif_with_orientation(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def add_chunk_before_iend(path: Path, kind: bytes, data: bytes) -> None:
    """Insert a chunk at the end of a PNG (after the pixel data, where Pillow must decode to find it)."""
    raw = path.read_bytes()
    iend = raw.rindex(b"IEND") - 4
    path.write_bytes(raw[:iend] + chunk(kind, data) + raw[iend:])


def write_bomb(path: Path, side: int = BOMB_SIDE) -> None:
    """A valid side x side black RGB PNG whose EXIF comes after the pixel data."""
    compressor = zlib.compressobj(1)
    row = b"\0" * (1 + 3 * side)
    body = b"".join([compressor.compress(row) for _ in range(side)] + [compressor.flush()])
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", body)
        + chunk(b"eXIf", exif_with_orientation(6))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    write_bomb(path)
    return path


# Runs srgan commands in a fresh process and reports their exit statuses and the process's peak: the
# whole process (torch and the model included) must stay small while refusing a bomb.
PEAK_SCRIPT = f"""
import json, sys
from srgan.cli import main
codes = [main(argv) for argv in json.loads(sys.argv[1])]
print(json.dumps({{"codes": codes, "peak_mib": {OWN_PEAK_MIB}}}))
"""


def run_measured(commands: list[list[str]]) -> tuple[list[int], float, str]:
    done = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, json.dumps(commands)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return report["codes"], report["peak_mib"], done.stderr


def test_a_decompression_bomb_is_refused_from_its_header_on_every_path(
    bomb: Path, model_file: Path, tmp_path: Path
) -> None:
    # the bomb as an input to upscale, as an image of an eval folder, and as an existing output that
    # --skip-existing checks for completeness
    data = tmp_path / "data"
    data.mkdir()
    (data / "bomb.png").symlink_to(bomb)
    Image.fromarray(np.zeros((48, 48, 3), np.uint8)).save(data / "ok.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "ok_x2.png").symlink_to(bomb)
    model = ["--model", str(model_file), "--precision", "fp32", "-q"]
    commands = [
        ["upscale", str(bomb), "-o", str(tmp_path / "up"), *model],
        ["upscale", str(data / "ok.png"), "-o", str(out), "--skip-existing", *model],
        ["eval", "--model", "bicubic", "--scale", "2", "--data", str(data), "--no-niqe"],
    ]
    codes, peak, err = run_measured(commands)
    assert codes == [1, 1, 1], err
    assert f"{bomb}: 20000x20000 = 400,000,000 pixels exceeds the limit" in err
    assert f"{data / 'bomb.png'}: 20000x20000 = 400,000,000 pixels exceeds the limit" in err
    assert f"{out / 'ok_x2.png'} exists but is not a complete output" in err
    assert "Traceback" not in err and "MemoryError" not in err
    assert not (tmp_path / "up").exists() or not any((tmp_path / "up").iterdir())
    print(f"peak RSS while refusing a {BOMB_SIDE}x{BOMB_SIDE} PNG on three paths: {peak:.0f} MiB")
    assert peak < 300, f"{peak} MiB: the bomb was decoded"


def test_reading_a_bombs_exif_and_size_decodes_nothing(bomb: Path, tmp_path: Path) -> None:
    script = (
        "from srgan.imageio import image_size, image_header;"
        f"print(image_size({str(bomb)!r}), image_header({str(bomb)!r}), {OWN_PEAK_MIB})"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    peak = int(done.stdout.split()[-1])
    # its EXIF (after the pixel data) is read by walking the chunks, not by decoding
    assert done.stdout.startswith("(20000, 20000) (20000, 20000, False, 8)"), done.stdout
    assert peak < 300, f"{peak} MiB: reading EXIF decoded the image"


def test_the_web_server_refuses_a_bomb_from_its_header(bomb: Path, model_file: Path) -> None:
    pytest.importorskip("fastapi", reason="srgan serve needs the web extra")
    script = f"""
from fastapi.testclient import TestClient
from srgan.web.app import ServeConfig, create_app
app = create_app(ServeConfig([{str(model_file)!r}], max_upload_mb=16, precision="fp32"))
with TestClient(app) as client, open({str(bomb)!r}, "rb") as f:
    r = client.post("/api/upscale", files={{"file": ("b.png", f.read(), "image/png")}})
print(r.status_code, {OWN_PEAK_MIB}, r.json()["error"])
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr
    status, peak, message = done.stdout.strip().split(" ", 2)
    assert status == "413", done.stdout
    assert message.startswith("the upload: 20000x20000 = 400,000,000 pixels exceeds the limit"), message
    assert int(peak) < 400, f"{peak} MiB"


def write_png16(path: Path, arr: np.ndarray, orientation: int) -> None:
    h, w, c = arr.shape
    with open(path, "wb") as f:
        png.Writer(width=w, height=h, bitdepth=16, greyscale=False, alpha=c == 4).write(f, arr.reshape(h, w * c))
    add_chunk_before_iend(path, b"eXIf", exif_with_orientation(orientation))


def test_a_16bit_png_is_turned_upright_by_its_exif_and_skip_existing_accepts_the_result(
    model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from srgan.imageio import read_image

    arr = np.random.default_rng(0).integers(0, 65536, (8, 12, 3), dtype=np.uint16)
    path = tmp_path / "p16.png"
    write_png16(path, arr, 6)  # stored 12 wide, 8 high; shown rotated 90 degrees clockwise
    data = read_image(path)
    assert data.bits == 16 and data.size == (8, 12)
    np.testing.assert_array_equal(data.to_numpy(), np.rot90(arr, -1))
    assert Image.Exif().load(data.info["exif"]) is None  # loads
    out = tmp_path / "out"
    argv = ["upscale", str(path), "-o", str(out), "--model", str(model_file), "--precision", "fp32"]
    assert main([*argv, "-q"]) == 0
    with Image.open(out / "p16_x2.png") as im:
        assert im.size == (16, 24) and im.getexif().get(0x0112, 1) == 1
    capsys.readouterr()
    assert main([*argv, "-q", "--skip-existing"]) == 0
    assert "skipped 1 image(s) whose output was already complete" in capsys.readouterr().out


def test_the_header_is_the_one_read_policy(tmp_path: Path) -> None:
    """image_size, image_header, probe and read_image agree on an oriented 8-bit PNG, and a folder
    given as an image is called a folder."""
    from srgan.imageio import ImageReadError, image_header, image_size, probe, read_header, read_image

    path = tmp_path / "o.png"
    Image.fromarray(np.zeros((8, 12, 3), np.uint8)).save(path)
    add_chunk_before_iend(path, b"eXIf", exif_with_orientation(8))
    assert image_size(path) == probe(path) == read_image(path).size == read_header(path).size == (8, 12)
    assert image_header(path) == (8, 12, False, 8)
    with pytest.raises(ImageReadError, match="is a folder, not an image file"):
        read_image(tmp_path)


NOT_A_MODEL = "/nonexistent/model.pth"  # reaching the model would fail differently: the option came first


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["upscale", "x.png", "--outscale", "inf"],
            "argument --outscale: takes a number above 0 and at most 64, got 'inf'",
        ),
        (
            ["upscale", "x.png", "--outscale", "1e308"],
            "argument --outscale: takes a number above 0 and at most 64, got 1e308",
        ),
        (
            ["upscale", "x.png", "--outscale", "nan"],
            "argument --outscale: takes a number above 0 and at most 64, got 'nan'",
        ),
        (
            ["upscale", "x.png", "--width", "inf"],
            "argument --width: takes a whole number from 1 to 1,048,576, got 'inf'",
        ),
        (["upscale", "x.png", "--height", "0"], "argument --height: takes a whole number from 1 to 1,048,576, got 0"),
        (["upscale", "x.png", "--tile", "nan"], "argument --tile: takes a whole number of at least 1, got 'nan'"),
        (["upscale", "x.png", "--tile-context", "-1"], "argument --tile-context: takes a whole number of at least 0"),
        (["upscale", "x.png", "--threads", "2.5"], "argument --threads: takes a whole number of at least 1, got '2.5'"),
        (["upscale", "x.png", "--max-pixels", "0"], "argument --max-pixels: takes a whole number of at least 1, got 0"),
        (["upscale", "x.png", "--strength", "nan"], "argument --strength: takes a number from 0 to 1, got 'nan'"),
        (["upscale", "x.png", "--scale", "inf"], "argument --scale: takes a whole number, got 'inf'"),
        (
            ["upscale", "x.png", "--tile", "1", "--tile-context", "0"],
            "a tile of 1 pixels is too small for 0 pixels of context on each side: tiles must be at least 9 pixels",
        ),
        (["upscale", "x.mkv", "--crf", "64"], "argument --crf: takes a whole number from 0 to 63, got 64"),
        (["upscale", "x.mkv", "--crf", "-1"], "argument --crf: takes a whole number from 0 to 63, got -1"),
        (
            ["upscale", "x.mkv", "--dedup-threshold", "nan"],
            "argument --dedup-threshold: takes a number from 0 to 255, got 'nan'",
        ),
        (
            ["upscale", "x.mkv", "--dedup-threshold", "-0.5"],
            "argument --dedup-threshold: takes a number from 0 to 255, got -0.5",
        ),
        (
            ["upscale", "x.mkv", "--segment-frames", "0"],
            "argument --segment-frames: takes a whole number of at least 1, got 0",
        ),
        (
            ["upscale", "x.mkv", "--preset", "bogus"],
            "--preset for the default encoders (libx264 and libx265) takes one of ultrafast, superfast, veryfast, faster, fast, medium, slow",
        ),
        (
            ["upscale", "x.mkv", "--codec", "libsvtav1", "--preset", "99"],
            "--preset for libsvtav1 takes a whole number from -1 to 13, got '99'",
        ),
        (["upscale", "x.mkv", "--codec", "ffv1", "--preset", "slow"], "--preset does not apply to ffv1"),
        (
            ["eval", "--video", "x.mkv", "--max-frames", "1"],
            "argument --max-frames: takes a whole number of at least 2, got 1",
        ),
        (["eval", "--data", ".", "--strength", "0,inf"], "argument --strength: takes a number from 0 to 1, got 'inf'"),
        (["eval", "--data", ".", "--degradation-seed", "-1"], "argument --degradation-seed: takes a whole number of"),
        (["export", "-o", "m.onnx", "--strength", "nan"], "argument --strength: takes a number from 0 to 1, got 'nan'"),
        (["serve", "--port", "99999"], "argument --port: takes a whole number from 1 to 65,535, got 99999"),
        (["serve", "--queue", "0"], "argument --queue: takes a whole number of at least 1, got 0"),
        (["serve", "--max-upload-mb", "-1"], "argument --max-upload-mb: takes a number above 0, got -1"),
        (["serve", "--max-upload-mb", "nan"], "argument --max-upload-mb: takes a number above 0, got 'nan'"),
        (["serve", "--workers", "0"], "argument --workers: takes a whole number of at least 1, got 0"),
        (["serve", "--max-pixels", "inf"], "argument --max-pixels: takes a whole number of at least 1, got 'inf'"),
        (["info", "--blocks", "0"], "argument --blocks: takes a whole number from 1 to 256, got 0"),
        (["train", "--scale", "nan"], "argument --scale: takes a whole number, got 'nan'"),
        (
            ["distill", "targets", "--teacher", NOT_A_MODEL, "--photos", ".", "--out", "c", "--max-gb", "nan"],
            "argument --max-gb: takes a number above 0, got 'nan'",
        ),
    ],
)
def test_every_numeric_option_takes_finite_numbers_in_its_range_checked_before_any_model_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    takes_model = argv[0] in ("upscale", "eval", "export", "serve")
    full = [*argv, "--model", NOT_A_MODEL] if takes_model else argv
    err = fails_with_one_sentence(capsys, full, message, folder=tmp_path)
    assert "nonexistent" not in err, "the option is refused before the model is looked at"


def test_the_old_tile_overlap_flag_still_works_and_says_its_new_name(
    model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import warnings

    from srgan.inference.upscaler import Upscaler

    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    common = ["upscale", str(tmp_path / "a.png"), "--model", str(model_file), "--precision", "fp32", "-q", "--tile"]
    assert main([*common, "32", "--tile-context", "8", "-o", str(tmp_path / "new.png")]) == 0
    assert "deprecated" not in capsys.readouterr().err
    assert main([*common, "32", "--tile-overlap", "8", "-o", str(tmp_path / "old.png")]) == 0
    assert (
        "srgan upscale: --tile-overlap is deprecated and will be removed; use --tile-context" in capsys.readouterr().err
    )
    assert (tmp_path / "new.png").read_bytes() == (tmp_path / "old.png").read_bytes()
    with pytest.warns(DeprecationWarning, match="tile_overlap is now tile_context"):
        old = Upscaler.from_pretrained(model_file, precision="fp32", tile_overlap=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Upscaler.from_pretrained(model_file, precision="fp32", tile_context=5).margin == old.margin == 5


def _png_bytes(width: int, height: int) -> bytes:
    import io

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def test_the_web_servers_memory_rule_covers_the_output_size(model_file: Path) -> None:
    pytest.importorskip("fastapi", reason="srgan serve needs the web extra")
    import re

    from fastapi.testclient import TestClient

    from srgan.web.app import ServeConfig, create_app

    # a small server (10,000-pixel inputs), so that on code without the rule the job it accepts stays small too
    app = create_app(ServeConfig([str(model_file)], max_pixels=10_000, precision="fp32"))
    with TestClient(app) as client:
        small = {"file": ("s.png", _png_bytes(64, 64), "image/png")}
        # 64x64 -> 4096x4096: an input the server takes, an output far beyond what one job may use
        r = client.post("/api/upscale", files=small, data={"width": "4096"})
        assert r.status_code == 413, r.text
        assert re.match(
            r"a 4096x4096 result would need about \d+ MiB, more than this server's 1 MiB", r.json()["error"]
        )
        assert "(a 10,000-pixel input at x2); ask for a smaller size" in r.json()["error"]
        assert not any(app.state.jobs.uploads_dir.iterdir()), "the refused upload is not kept"
        # what the server's budget holds is still accepted
        assert client.post("/api/upscale", files=small, data={"outscale": "1.5"}).status_code == 202


def test_uploads_that_never_send_their_body_cannot_hold_the_queue(model_file: Path) -> None:
    pytest.importorskip("fastapi", reason="srgan serve needs the web extra")
    import socket
    import time

    import httpx

    from .conftest import start_serve

    queue, deadline = 2, 2.0
    server, url = start_serve(
        "--model", str(model_file), "--precision", "fp32", "--queue", str(queue), "--upload-timeout", str(deadline)
    )
    port = int(url.rsplit(":", 1)[1])
    stalled = []
    try:
        for _ in range(queue):  # each declares a body and never sends it
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(
                b"POST /api/upscale HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n"
                b"Content-Type: multipart/form-data; boundary=x\r\n\r\n"
            )
            stalled.append(s)
        time.sleep(0.5)
        files = {"file": ("s.png", _png_bytes(16, 16), "image/png")}
        assert httpx.post(f"{url}/api/upscale", files=files, timeout=10).status_code == 503  # held, for now
        started = time.monotonic()
        for s in stalled:  # at the deadline each stalled upload is answered and its place freed
            answer = ""
            while not answer.endswith("}") and (part := s.recv(4096).decode()):
                answer += part
            assert answer.startswith("HTTP/1.1 408"), answer
            assert "the upload did not arrive within 2 seconds" in answer
        assert time.monotonic() - started < deadline + 5
        assert httpx.post(f"{url}/api/upscale", files=files, timeout=10).status_code == 202
    finally:
        for s in stalled:
            s.close()
        server.terminate()
        server.wait(30)
    log = server.stdout.read().decode()
    assert "Traceback" not in log, log


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("a.png", "sub/b.png"):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / name)
    return folder


def test_folders_where_files_belong_and_files_where_folders_belong_get_a_true_sentence(
    model_file: Path, photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = ["--model", str(model_file), "--precision", "fp32", "-q"]
    out = tmp_path / "out"
    out.mkdir()
    (out / "sub").write_text("a file where the output's folder goes")
    (out / "a_x2.png").mkdir()  # a folder where the output file goes
    argv = ["upscale", str(photos), "-r", "-o", str(out), *model]
    for extra in ([], ["--overwrite"], ["--skip-existing"]):  # --overwrite never replaces either
        err = fails_with_one_sentence(capsys, [*argv, *extra], "choose another -o or --suffix", 1, folder=tmp_path)
        assert f"the output path {out / 'a_x2.png'} is a folder" in err
        assert f"the output path {out / 'sub' / 'b_x2.png'} needs the folder {out / 'sub'}, which is a file" in err
        assert "exists (use --overwrite" not in err and "not a complete output" not in err
    # export to a folder, eval's images into a file, a file given as a folder
    (tmp_path / "notes.txt").write_text("a file")
    cases = [
        (["export", "--model", str(model_file), "--format", "onnx", "-o", str(out), "--overwrite"], "is a folder"),
        (
            [
                "eval",
                "--model",
                "bicubic",
                "--scale",
                "2",
                "--data",
                str(photos),
                "--save-images",
                str(tmp_path / "notes.txt"),
            ],
            f"--save-images {tmp_path / 'notes.txt'} is a file; give a folder",
        ),
        (
            ["eval", "--model", "bicubic", "--scale", "2", "--data", str(tmp_path / "notes.txt")],
            f"data folder {tmp_path / 'notes.txt'} is a file, not a folder of images",
        ),
        (
            [
                "export",
                "--model",
                str(model_file),
                "--format",
                "safetensors",
                "-o",
                str(tmp_path / "m.safetensors"),
                "--int8-calibration",
                str(tmp_path / "notes.txt"),
            ],
            f"int8 calibration folder {tmp_path / 'notes.txt'} is a file, not a folder",
        ),
    ]
    for argv, message in cases:
        fails_with_one_sentence(capsys, argv, message, folder=tmp_path)


def test_a_corrupt_input_is_blamed_not_its_existing_output(
    model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    out = tmp_path / "out"
    out.mkdir()
    (out / "bad_x2.png").write_bytes(b"an earlier, unrelated file")
    for extra in ([], ["--skip-existing"]):
        argv = ["upscale", str(tmp_path / "bad.png"), "-o", str(out), "--model", str(model_file), "-q", *extra]
        err = fails_with_one_sentence(capsys, argv, f"{tmp_path / 'bad.png'}: not a readable image", 1, folder=tmp_path)
        assert "bad_x2.png" not in err


def test_a_dangling_symlink_at_the_output_path_is_not_replaced_without_overwrite(
    model_file: Path, photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    link = out / "a_x2.png"
    link.symlink_to(tmp_path / "elsewhere" / "nothing.png")
    argv = ["upscale", str(photos / "a.png"), "-o", str(out), "--model", str(model_file), "-q"]
    fails_with_one_sentence(capsys, argv, f"{link} exists (use --overwrite to replace it)", 1)
    assert link.is_symlink() and not link.exists(), "the link is left as it was"
    assert main([*argv, "--overwrite"]) == 0
    assert not link.is_symlink() and Image.open(link).size == (32, 32)


def test_serve_refuses_an_address_it_cannot_listen_on_and_leaves_no_folder(
    model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("fastapi", reason="srgan serve needs the web extra")
    import socket
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the results folder would be made
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = ["serve", "--model", str(model_file), "--port", str(port)]
        fails_with_one_sentence(capsys, argv, f"cannot listen on 127.0.0.1:{port} (Address already in use)")
    assert not any(tmp_path.iterdir())


def test_the_python_api_says_which_range_and_shape_it_takes(model_file: Path) -> None:
    import torch

    from srgan.inference.upscaler import Upscaler

    up = Upscaler.from_pretrained(model_file, precision="fp32")
    photo = np.random.default_rng(0).integers(0, 256, (8, 8, 3)).astype(np.float32)  # 0..255 as floats
    with pytest.raises(
        ValueError, match=r"holds values from 0 to 255, but float images hold values in \[0, 1\] \(an 8-bit"
    ):
        up.upscale(photo)
    with pytest.raises(ValueError, match=r"the float tensor holds values from 0 to 255"):
        up.upscale(torch.from_numpy(photo).permute(2, 0, 1))
    with pytest.raises(ValueError, match="holds NaN or infinite values"):
        up.upscale(np.full((8, 8, 3), np.nan, np.float32))
    with pytest.raises(ValueError, match=r"the array is an empty image \(0x0 pixels\); give at least 1x1"):
        up.upscale(np.zeros((0, 0, 3), np.uint8))
    with pytest.raises(ValueError, match=r"the tensor is an empty image \(0x4 pixels\)"):
        up.upscale(torch.zeros(3, 4, 0))
    with pytest.raises(ValueError, match=r"the batch is empty \(shape \(0, 3, 8, 8\)\); give at least one image"):
        up.upscale(torch.zeros(0, 3, 8, 8))
    # the same pixels in the range it takes are upscaled
    assert up.upscale(photo / 255).shape == (16, 16, 3)
