"""How long `rebill-bot` takes to start: `--help` and `invoice list` on a migrated, empty database.

Usage: python bench/cli_startup.py [--quick] [--runs N] [--against PATH]
`--against PATH` also times another checkout of the repository (e.g. `git archive <commit>` of the
CLI before issue 11) in turns with this one, so both see the same load on a shared machine, and
prints the ratio. Each run is a new `python -m bot` process: what a person or a script waits for.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
COMMANDS = (["--help"], ["invoice", "list"])


def timed(tree: Path, args: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env | {"PYTHONPATH": str(tree)},
        cwd=cwd,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="3 runs of each instead of 15")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--against", type=Path, help="another checkout to compare with")
    options = parser.parse_args()
    runs = options.runs or (3 if options.quick else 15)
    folder = Path(tempfile.mkdtemp(prefix="rebill-bench-cli-"))
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "VIRTUAL_ENV"}}
    env["DATABASE_URL"] = f"sqlite:///{folder / 'bench.db'}"
    subprocess.run(
        [sys.executable, "-m", "bot", "db", "upgrade"],
        env=env | {"PYTHONPATH": str(HERE)},
        cwd=folder,
        check=True,
        capture_output=True,
    )
    trees = {"this checkout": HERE} | ({"--against": options.against.resolve()} if options.against else {})
    for args in COMMANDS:
        samples: dict[str, list[float]] = {name: [] for name in trees}
        for _ in range(runs):
            for name, tree in trees.items():  # in turns: a load spike hits both alike
                samples[name].append(timed(tree, args, env, folder))
        medians = {name: statistics.median(found) for name, found in samples.items()}
        shown = "  ".join(f"{name}: median {m * 1000:.0f} ms" for name, m in medians.items())
        ratio = (
            f"  ratio {medians['this checkout'] / medians['--against']:.2f}" if "--against" in medians else ""
        )
        print(f"rebill-bot {' '.join(args):<14} ({runs} runs)  {shown}{ratio}")


if __name__ == "__main__":
    main()
