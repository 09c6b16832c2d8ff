"""``benchmarks/detector_resolution.py``: BlazeFace frames a 48-px face as it frames the same face in HD."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "detector_resolution.py"


def _load():
    spec = importlib.util.spec_from_file_location("detector_resolution_bench", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.shared_data
def test_a_face_made_small_gets_the_box_it_had_at_full_resolution(shared_data):
    clips = sorted((shared_data / "videos" / "mead").glob("*.mp4"))[:3]
    boxes, missed = _load().compare_boxes(clips, stride=15)
    assert len(boxes) >= 20 and missed <= len(boxes) // 10
    side, dx, dy = np.median(boxes, axis=0)
    assert side == pytest.approx(1.0, abs=0.03) and abs(dx) < 0.03 and abs(dy) < 0.03
