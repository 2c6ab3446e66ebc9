"""``srgan models``: the bundled models and their measured quality."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument(
        "--supported",
        action="store_true",
        help="which community architectures srgan loads (natively or with the zoo extra), counted on OpenModelDB",
    )


def run(args: argparse.Namespace) -> int:
    import json

    if args.supported:
        return _supported()

    from srgan.modelfiles.bundled import model_cards

    cards = model_cards()
    if args.json:
        print(json.dumps(cards, indent=2))
        return 0
    if not cards:
        print("no bundled models in this installation")
        return 0
    width = max(len("name"), *(len(card["name"]) for card in cards))  # the name column fits the longest name
    print(
        f"{'name':<{width}} {'scale':>5}  {'Set5 PSNR-Y':>11} {'Set14 PSNR-Y':>12} {'BSD100 PSNR-Y':>13} "
        f"{'BSD100 NIQE':>11} {'Grid':>5}  file"
    )
    for card in cards:
        m = card.get("metrics", {})

        def cell(ds: str, key: str, digits: int = 2, metrics=m) -> str:  # type: ignore[no-untyped-def]
            v = metrics.get(ds, {}).get(key)
            return "-" if v is None else f"{v:.{digits}f}"

        print(
            f"{card['name']:<{width}} {'x' + str(card['scale']):>5}  {cell('Set5', 'psnr_y'):>11} {cell('Set14', 'psnr_y'):>12} "
            f"{cell('BSD100', 'psnr_y'):>13} {cell('BSD100', 'niqe', 3):>11} {cell('BSD100', 'grid'):>5}  {card['file']}"
        )
        if card.get("summary"):
            print(f"{'':<{width + 2}}{card['summary']}")
        if card.get("base"):
            print(
                f"{'':<{width + 2}}--strength S blends it with its fidelity base {card['base']} (0 = {card['base']}, 1 = itself)"
            )
    print(
        "PSNR-Y: fidelity (higher is better); NIQE: naturalness (lower is better); Grid: sub-pixel grid "
        "artifacts (natural images ~0.12). Model card: docs/models.md"
    )
    return 0


def _supported() -> int:
    from srgan.archs.zoo.spandrel_import import ZOO_INSTALL, zoo_available
    from srgan.modelfiles.coverage import table

    print("\n".join(table()))
    state = "installed" if zoo_available() else f"not installed ({ZOO_INSTALL})"
    print(f"zoo extra: {state}. Table and method: docs/zoo.md")
    return 0
