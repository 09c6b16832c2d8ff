"""Reporting pipeline fixtures, shared with ``tests/reporting`` (``tests/reporting/reporting_support.py``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def _load_support():  # type: ignore[no-untyped-def]
    name = "reporting_support"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).resolve().parents[2] / "reporting" / "reporting_support.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


support = _load_support()
truth_table = support.truth_table
study_layout = support.study_layout
movie_eval_layout = support.movie_eval_layout
movie_list = support.movie_list
chromium = support.chromium
browser = support.browser
