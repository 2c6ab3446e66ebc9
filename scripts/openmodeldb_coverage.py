"""Count OpenModelDB's models by architecture tag and what srgan loads of them.

    python scripts/openmodeldb_coverage.py --models OPEN_MODEL_DATABASE/data/models [--check]

Reads every ``*.json`` entry (``architecture``, ``scale``, ``inputChannels``, ``outputChannels``,
``date``), applies ``srgan.modelfiles.coverage.loadable`` and prints the table of
``srgan models --supported`` as Python rows (to paste into ``coverage.ENTRIES``) and in Markdown
(for docs/zoo.md). ``--check`` exits 1 when the counts differ from ``coverage.ENTRIES``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from srgan.modelfiles.coverage import ENTRIES, NOT, SUPPORT, Row, loadable, totals


def count(folder: Path) -> tuple[Row, ...]:
    entries: Counter[str] = Counter()
    recent: Counter[str] = Counter()
    ok: Counter[str] = Counter()
    ok_recent: Counter[str] = Counter()
    for path in sorted(folder.glob("*.json")):
        entry = json.loads(path.read_text())
        tag = entry["architecture"]
        new = str(entry.get("date", "")) >= "2023"
        can = loadable(tag, entry["scale"], entry.get("inputChannels", 3), entry.get("outputChannels", 3)) != NOT
        entries[tag] += 1
        recent[tag] += new
        ok[tag] += can
        ok_recent[tag] += can and new
    order = sorted(entries, key=lambda t: (-entries[t], t))
    return tuple(Row(t, entries[t], recent[t], ok[t], ok_recent[t]) for t in order)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, required=True, help="data/models of an open-model-database checkout")
    parser.add_argument("--check", action="store_true", help="exit 1 if the counts differ from coverage.ENTRIES")
    args = parser.parse_args()
    rows = count(args.models)
    for r in rows:
        print(f'    Row("{r.tag}", {r.entries}, {r.since_2023}, {r.loadable}, {r.loadable_since_2023}),')
    print("\n| architecture | entries | 2023+ | srgan loads | how |\n| --- | ---: | ---: | ---: | --- |")
    for r in rows:
        s = SUPPORT.get(r.tag)
        how = f"{s.how}: {s.note}" if s else "not: unknown to srgan"
        print(f"| {r.tag} | {r.entries} | {r.since_2023} | {r.loadable} | {how} |")
    n, ok, n23, ok23 = totals(rows)
    print(f"\nloadable: {ok}/{n} = {100 * ok / n:.1f}%; dated 2023 or later: {ok23}/{n23} = {100 * ok23 / n23:.1f}%")
    if args.check and rows != ENTRIES:
        print("the counts differ from srgan.modelfiles.coverage.ENTRIES", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
