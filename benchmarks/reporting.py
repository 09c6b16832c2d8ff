"""Time the whole report build on the study's real predictions (~190k rows); run by hand.

    .venv/bin/python benchmarks/reporting.py [--shared-data PATH] [--repeat N]

Runs the ``reporting`` pipeline with the project's ``study`` conf env in a throw-away copy of the project
(so ``data/`` is untouched), prints the wall time of each run and the slowest nodes, and compares the
best run with the target (the whole report in under 30 s). Exit status 1 when over the target.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd
from kedro.config import OmegaConfigLoader
from kedro.framework.hooks import hook_impl
from kedro.framework.hooks.manager import _create_hook_manager
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner

from expressions_ensemble import settings
from expressions_ensemble.pipelines.reporting import create_pipeline

REPO = Path(__file__).resolve().parents[1]
TARGET_SEC = 30.0


class NodeTimer:
    """Wall time per node (including its dataset loads and saves)."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.seconds: dict[str, float] = defaultdict(float)

    @hook_impl
    def before_node_run(self, node) -> None:  # type: ignore[no-untyped-def]
        self.started[node.name] = time.perf_counter()

    @hook_impl
    def after_node_run(self, node) -> None:  # type: ignore[no-untyped-def]
        self.seconds[node.name] += time.perf_counter() - self.started.pop(node.name)


def shared_data_dir(given: str | None) -> Path:
    return Path(given or os.environ.get("EXE_SHARED_DATA") or REPO.parent / "shared" / "data").resolve()


def run_once(shared: Path) -> tuple[float, NodeTimer, int]:
    with tempfile.TemporaryDirectory(prefix="reporting-bench-") as tmp:
        project = Path(tmp) / "project"
        shutil.copytree(REPO / "conf", project / "conf", ignore=shutil.ignore_patterns("local"))
        (project / "conf" / "local").mkdir()
        (Path(tmp) / "shared").mkdir()
        (Path(tmp) / "shared" / "data").symlink_to(shared)
        cwd = Path.cwd()
        os.chdir(project)
        try:
            timer = NodeTimer()
            hooks = _create_hook_manager()
            hooks.register(timer)
            start = time.perf_counter()
            loader = OmegaConfigLoader(
                conf_source=str(project / "conf"), env="study", **settings.CONFIG_LOADER_ARGS
            )
            catalog = DataCatalog.from_config(loader["catalog"])
            catalog["params:reporting"] = loader["parameters"]["reporting"]
            SequentialRunner().run(create_pipeline(), catalog, hook_manager=hooks)
            elapsed = time.perf_counter() - start
            quality = pd.read_csv(project / "data" / "08_reporting" / "data_quality.csv")
            rows = int(quality.loc[quality["check"] == "rows_in", "count"].sum())
        finally:
            os.chdir(cwd)
    return elapsed, timer, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared-data", help="folder holding movie_predictions/ (default ../shared/data)")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    shared = shared_data_dir(args.shared_data)
    if not (shared / "movie_predictions").is_dir():
        print(
            f"real predictions not found under {shared}; set --shared-data or EXE_SHARED_DATA",
            file=sys.stderr,
        )
        return 2
    import logging

    logging.getLogger("kedro").setLevel(logging.WARNING)
    times = []
    for i in range(args.repeat):
        elapsed, timer, rows = run_once(shared)
        times.append(elapsed)
        print(f"run {i + 1}: whole report over {rows:,} input rows in {elapsed:.1f} s")
    print("slowest nodes of the last run:")
    for name, sec in sorted(timer.seconds.items(), key=lambda kv: -kv[1])[:8]:
        print(f"  {sec:6.2f} s  {name}")
    best = min(times)
    verdict = "within" if best < TARGET_SEC else "OVER"
    print(f"best {best:.1f} s: {verdict} the target of {TARGET_SEC:.0f} s")
    return 0 if best < TARGET_SEC else 1


if __name__ == "__main__":
    sys.exit(main())
