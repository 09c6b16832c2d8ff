"""The session-start check of the top-level parameter keys."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from kedro.config import OmegaConfigLoader

from expressions_ensemble.hooks import SourceVariantsHook, check_top_level_keys, known_parameter_keys
from support import REPO_ROOT

ENVS = sorted(
    p.name for p in (REPO_ROOT / "conf").iterdir() if p.is_dir() and p.name not in ("base", "local")
)


def _parameters(env: str) -> dict:
    loader = OmegaConfigLoader(
        str(REPO_ROOT / "conf"), base_env="base", default_run_env=env, merge_strategy={"parameters": "soft"}
    )
    return dict(loader["parameters"])


def test_the_known_keys_are_the_pipelines_and_the_shared_keys() -> None:
    packages = {
        p.name
        for p in (REPO_ROOT / "src/expressions_ensemble/pipelines").iterdir()
        if (p / "__init__.py").is_file()
    }
    assert known_parameter_keys() == packages | {"evaluation"}
    assert set(_parameters("base")) == known_parameter_keys()  # base sets every key the pipelines read


@pytest.mark.parametrize("env", ENVS)
def test_every_shipped_env_passes(env: str) -> None:
    check_top_level_keys(_parameters(env), env)


def test_a_typo_at_the_top_fails_with_a_hint() -> None:
    parameters = {**_parameters("base"), "trainig": {"epochs": 1}}
    with pytest.raises(
        ValueError,
        match=r"^parameters of env 'mine': unknown top-level key\(s\) 'trainig' "
        r"\('trainig': did you mean 'training'\?\); allowed: baselines, ensemble, evaluation, ",
    ):
        check_top_level_keys(parameters, "mine")


def test_the_hook_checks_before_it_records_the_variants() -> None:
    context = SimpleNamespace(config_loader={"parameters": {"ingestion": {}, "trainig": {}}}, env="mine")
    with pytest.raises(ValueError, match="'trainig'"):
        SourceVariantsHook().after_context_created(context)
