"""Which of OpenModelDB's models srgan loads: per architecture tag, natively, with the zoo extra, or
not (and why), and the counts measured on OpenModelDB's own data.

``ENTRIES`` was counted by ``scripts/openmodeldb_coverage.py`` from the ``data/models/*.json`` files
of github.com/OpenModelDB/open-model-database at ``OPENMODELDB_COMMIT`` (each entry's
``architecture``, ``scale``, ``inputChannels``/``outputChannels`` and ``date``); run it on a newer
checkout to refresh the table. ``srgan models --supported`` prints it; docs/zoo.md explains it.
"""

from __future__ import annotations

from dataclasses import dataclass

from srgan.archs.compact import COMPACT_SCALES
from srgan.archs.realplksr import PLKSR_SCALES
from srgan.archs.rrdb import RRDB_SCALES
from srgan.archs.span import SPAN_SCALES
from srgan.archs.zoo import ZOO_SCALES

OPENMODELDB_COMMIT = "782aac088bd83dd3fc438a42eb0c3868dc559110"  # 2026-08-14
NATIVE, ZOO, NOT = "native", "zoo extra", "not"


@dataclass(frozen=True)
class Support:
    how: str  # NATIVE, ZOO or NOT
    scales: tuple[int, ...] = ()
    note: str = ""  # which network reads it, or why srgan does not


SUPPORT: dict[str, Support] = {
    "esrgan": Support(NATIVE, RRDB_SCALES, "RRDBNet, both key layouts"),
    "compact": Support(NATIVE, COMPACT_SCALES, "SRVGGNetCompact"),
    "span": Support(NATIVE, SPAN_SCALES, "SPAN"),
    "realplksr": Support(NATIVE, PLKSR_SCALES, "RealPLKSR"),
    "realplksr-dysample": Support(NATIVE, PLKSR_SCALES, "RealPLKSR with DySample"),
    "dat": Support(ZOO, ZOO_SCALES, "spandrel DAT"),
    "swinir": Support(ZOO, ZOO_SCALES, "spandrel SwinIR"),
    "omnisr": Support(ZOO, ZOO_SCALES, "spandrel OmniSR"),
    "srformer": Support(ZOO, ZOO_SCALES, "SRFormer of spandrel_extra_arches"),
    "hat": Support(ZOO, ZOO_SCALES, "spandrel HAT"),
    "rgt": Support(ZOO, ZOO_SCALES, "spandrel RGT"),
    "drct": Support(ZOO, ZOO_SCALES, "spandrel DRCT"),
    "atd": Support(ZOO, ZOO_SCALES, "spandrel ATD"),
    "mosr": Support(ZOO, ZOO_SCALES, "spandrel MoSR"),
    "rcan": Support(ZOO, ZOO_SCALES, "spandrel RCAN"),
    "real-cugan": Support(ZOO, ZOO_SCALES, "spandrel RealCUGAN"),
    "cugan": Support(ZOO, ZOO_SCALES, "spandrel RealCUGAN"),
    "ditn": Support(ZOO, ZOO_SCALES, "spandrel DITN"),
    "grl": Support(ZOO, ZOO_SCALES, "spandrel GRL"),
    "swift-srgan": Support(ZOO, ZOO_SCALES, "spandrel SwiftSRGAN"),
    "craft": Support(ZOO, ZOO_SCALES, "spandrel CRAFT"),
    "dctlsa": Support(ZOO, ZOO_SCALES, "spandrel DCTLSA"),
    "sofvsr": Support(NOT, note="a video network (several frames and optical flow in, one out)"),
    "cain": Support(NOT, note="frame interpolation, not upscaling"),
    "cain-yuv": Support(NOT, note="frame interpolation, not upscaling"),
    "rife": Support(NOT, note="frame interpolation, not upscaling"),
    "tscunet": Support(NOT, note="a video network (temporal SCUNet: several frames in); not in spandrel 0.4.2"),
    "esrgan+": Support(NOT, note="ESRGAN+ (noise-injecting blocks): neither srgan's RRDBNet nor a zoo path reads it"),
    "spsr": Support(NOT, note="SPSR (a gradient branch beside the RRDB trunk): not in spandrel 0.4.2"),
    "ludvae": Support(NOT, note="LUDVAE (a VAE denoiser): not in spandrel 0.4.2"),
    "hma": Support(NOT, note="HMA: not in spandrel 0.4.2"),
    "edsr": Support(NOT, note="EDSR: not in spandrel 0.4.2"),
    "sr-res-net": Support(NOT, note="BasicSR's MSRResNet (not srgan's SRResNet layout): not in spandrel 0.4.2"),
}


def loadable(tag: str, scale: int, in_channels: int, out_channels: int) -> str:
    """NATIVE, ZOO or NOT for one OpenModelDB entry."""
    support = SUPPORT.get(tag)
    if support is None or support.how == NOT:
        return NOT
    if scale not in support.scales or (in_channels, out_channels) != (3, 3):
        return NOT  # x16, 1- and 4-channel files: srgan upscales RGB at the scales above
    return support.how


@dataclass(frozen=True)
class Row:
    tag: str
    entries: int
    since_2023: int
    loadable: int  # entries srgan loads (the others: other scales or channel counts)
    loadable_since_2023: int


# counted at OPENMODELDB_COMMIT by scripts/openmodeldb_coverage.py (671 entries, 286 dated 2023 or later)
ENTRIES: tuple[Row, ...] = (
    Row("esrgan", 368, 48, 355, 48),
    Row("compact", 85, 61, 85, 61),
    Row("dat", 34, 34, 34, 34),
    Row("span", 34, 34, 34, 34),
    Row("swinir", 22, 7, 22, 7),
    Row("omnisr", 20, 20, 20, 20),
    Row("realplksr", 17, 17, 17, 17),
    Row("sofvsr", 9, 0, 0, 0),
    Row("srformer", 9, 7, 9, 7),
    Row("hat", 7, 7, 7, 7),
    Row("rgt", 7, 7, 7, 7),
    Row("drct", 6, 6, 6, 6),
    Row("atd", 5, 5, 5, 5),
    Row("mosr", 5, 5, 5, 5),
    Row("cain", 4, 0, 0, 0),
    Row("rcan", 4, 4, 4, 4),
    Row("real-cugan", 4, 4, 4, 4),
    Row("realplksr-dysample", 4, 4, 4, 4),
    Row("cugan", 3, 3, 3, 3),
    Row("esrgan+", 3, 0, 0, 0),
    Row("spsr", 3, 0, 0, 0),
    Row("tscunet", 3, 3, 0, 0),
    Row("ditn", 2, 2, 2, 2),
    Row("grl", 2, 2, 2, 2),
    Row("ludvae", 2, 2, 0, 0),
    Row("swift-srgan", 2, 0, 2, 0),
    Row("cain-yuv", 1, 0, 0, 0),
    Row("craft", 1, 1, 1, 1),
    Row("dctlsa", 1, 1, 1, 1),
    Row("edsr", 1, 1, 0, 0),
    Row("hma", 1, 1, 0, 0),
    Row("rife", 1, 0, 0, 0),
    Row("sr-res-net", 1, 0, 0, 0),
)


def totals(rows: tuple[Row, ...] = ENTRIES, how: tuple[str, ...] = (NATIVE, ZOO)) -> tuple[int, int, int, int]:
    """(entries, loadable, entries since 2023, loadable since 2023), counting loadable only by ``how``."""
    picked = [r for r in rows if SUPPORT.get(r.tag, Support(NOT)).how in how]
    return (
        sum(r.entries for r in rows),
        sum(r.loadable for r in picked),
        sum(r.since_2023 for r in rows),
        sum(r.loadable_since_2023 for r in picked),
    )


def table(rows: tuple[Row, ...] = ENTRIES) -> list[str]:
    """The coverage table as lines of text (``srgan models --supported``)."""
    lines = [f"{'architecture':<19} {'entries':>7} {'2023+':>6} {'loads':>6}  how (why not)"]
    for r in rows:
        s = SUPPORT.get(r.tag, Support(NOT, note="unknown to srgan"))
        why = s.note if s.how == NOT else f"{s.note}" + ("" if r.loadable == r.entries else "; not x16, 1-/4-channel")
        lines.append(f"{r.tag:<19} {r.entries:>7} {r.since_2023:>6} {r.loadable:>6}  {s.how}: {why}")
    n, ok, n23, ok23 = totals(rows)
    native = totals(rows, (NATIVE,))
    lines.append(
        f"OpenModelDB ({OPENMODELDB_COMMIT[:12]}): srgan loads {ok} of {n} entries ({100 * ok / n:.1f}%), "
        f"{ok23} of the {n23} dated 2023 or later ({100 * ok23 / n23:.1f}%); natively alone {native[1]} "
        f"({100 * native[1] / n:.1f}%) and {native[3]} ({100 * native[3] / n23:.1f}%)"
    )
    return lines
