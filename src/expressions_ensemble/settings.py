"""Kedro project settings: https://docs.kedro.org/en/stable/kedro_project_setup/settings.html"""

from kedro.config import OmegaConfigLoader

from expressions_ensemble.errors import ShortErrorsHook
from expressions_ensemble.hooks import SourceVariantsHook
from expressions_ensemble.runlock import RunLockHook, SetupLockHook

HOOKS = (SetupLockHook(), SourceVariantsHook(), ShortErrorsHook(), RunLockHook())

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # conf envs (paper, sweeps) override only the keys they change
    "merge_strategy": {"parameters": "soft", "catalog": "soft"},
}
