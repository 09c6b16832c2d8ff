"""Every conf environment builds every pipeline, and every dataset its pipelines read resolves.

The environments are found by listing ``conf/`` (all but ``base`` and ``local``), so a new env is
covered without editing this test. Each env is checked in its own process, as ``kedro run --env E``
would meet it: a session, the project's hooks (which fix the variants), the registered pipelines, and
the catalog (explicit entries and dataset factories) for each pipeline's free inputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from support import REPO_ROOT, conf_envs

ENVS = conf_envs()

_CHECK = r"""
import json, sys
from pathlib import Path
from kedro.framework.project import pipelines
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

root = Path(sys.argv[1])
bootstrap_project(root)
with KedroSession.create(project_path=root, env=sys.argv[2]) as session:
    context = session.load_context()
    catalog = context.catalog
    report = {}
    for name in sorted(pipelines):
        pipe = pipelines[name]
        missing = []
        for ds in sorted(pipe.inputs()):
            if ds.startswith("params:") or ds == "parameters":
                if ds not in catalog:
                    missing.append(ds)
            elif catalog.get(ds) is None:
                missing.append(ds)
        report[name] = {"nodes": len(pipe.nodes), "missing": missing}
print("ENV-REPORT " + json.dumps(report))
"""


def _env_report(env: str) -> dict[str, dict]:
    full_env = {k: v for k, v in os.environ.items() if k != "KEDRO_ENV"} | {"KEDRO_DISABLE_TELEMETRY": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", _CHECK, str(REPO_ROOT), env],
        cwd=REPO_ROOT, env=full_env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    lines = [line for line in proc.stdout.splitlines() if line.startswith("ENV-REPORT ")]
    output = f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert proc.returncode == 0 and lines, f"env {env} does not build:\n{output}"
    return json.loads(lines[-1].removeprefix("ENV-REPORT "))


def test_the_envs_are_found():
    assert {"paper", "study", "muxspace"} <= set(ENVS)


@pytest.mark.parametrize("env", ["base", *ENVS])
def test_every_pipeline_builds_and_its_inputs_resolve(env):
    report = _env_report(env)
    assert {"__default__", "ingestion", "movie_eval", "reporting"} <= set(report)
    assert report["__default__"]["nodes"] > 0
    broken = {name: r["missing"] for name, r in report.items() if r["missing"]}
    assert not broken, f"env {env}: inputs not in the catalog or parameters: {broken}"
