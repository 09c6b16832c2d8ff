"""Shared support of the reporting tests (registered as a pytest plugin by ``tests/conftest.py``): small
prediction tables in both layouts, and headless Chromium.

Chromium is Debian's ``chromium``; when it is missing the set-up installs it with apt-get (as root),
and tests that need it skip with the reason when that is impossible. It is driven over the DevTools
protocol on a pipe (``--remote-debugging-pipe``: fd 3 in, fd 4 out), so no extra package is needed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from expressions_ensemble.labels import STUDY_CLASSES, prob_column

REPO_ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "reporting"

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

# ---------------------------------------------------------------------------------------------------
# Synthetic predictions
# ---------------------------------------------------------------------------------------------------

#: film → (genre, the emotion its faces mostly show)
FILMS = {
    "comedy_one": ("Comedy", "happy"),
    "comedy_two": ("Comedy", "happy"),
    "comedy_three": ("Comedy", "happy"),
    "crime_one": ("Crime", "angry"),
    "crime_two": ("Crime", "sad"),
    "crime_three": ("Crime", "fear"),
    "horror_one": ("Horror", "fear"),
}


def film_truth(seed: int = 0, faces_per_film: int = 120) -> pd.DataFrame:
    """What happens in each synthetic film: one face per sampled frame, its true emotion."""
    rng = np.random.default_rng(seed)
    rows = []
    for movie, (_genre, main) in FILMS.items():
        for i in range(faces_per_film):
            emotion = main if rng.random() < 0.7 else STUDY_CLASSES[rng.integers(len(STUDY_CLASSES))]
            rows.append({"movie": movie, "frame_idx": 100 * i, "timestamp_sec": 4.0 * i, "emotion": emotion})
    out = pd.DataFrame(rows)
    out["face_area"] = rng.integers(400, 40_000, size=len(out))
    return out


def model_predictions(truth: pd.DataFrame, accuracy: float, bias: str | None, seed: int) -> pd.DataFrame:
    """A model's per-face probabilities: right with probability ``accuracy``, else ``bias`` (or random)."""
    rng = np.random.default_rng(seed)
    k = len(STUDY_CLASSES)
    probs = rng.dirichlet(np.ones(k), size=len(truth)) * 0.3
    for i, true in enumerate(truth["emotion"]):
        wrong = bias or STUDY_CLASSES[rng.integers(k)]
        target = true if rng.random() < accuracy else wrong
        probs[i, STUDY_CLASSES.index(target)] += 0.7
    probs /= probs.sum(axis=1, keepdims=True)
    out = truth[["movie", "frame_idx", "timestamp_sec", "face_area"]].copy()
    for j, e in enumerate(STUDY_CLASSES):
        out[prob_column(e)] = probs[:, j]
    out["emotion"] = np.asarray(STUDY_CLASSES)[probs.argmax(axis=1)]
    out["confidence"] = probs.max(axis=1)
    return out


#: model → (accuracy, emotion it falls back on when wrong)
MODELS = {"good": (0.9, None), "angry_bias": (0.3, "angry")}


@pytest.fixture(scope="session")
def truth_table() -> pd.DataFrame:
    return film_truth()


@pytest.fixture(scope="session")
def study_layout(truth_table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per model one table, as in the study's ``all_movies.parquet`` (partition key = model)."""
    out = {}
    for i, (model, (acc, bias)) in enumerate(MODELS.items()):
        frame = model_predictions(truth_table, acc, bias, seed=10 + i)
        frame["model"] = f"source_{model}"
        out[model] = frame
    return out


@pytest.fixture(scope="session")
def movie_eval_layout(study_layout: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The same predictions as one partition per film with ``<model>__`` columns."""
    shared = ["movie", "frame_idx", "timestamp_sec", "face_area"]
    first = next(iter(study_layout.values()))
    wide = first[shared].copy()
    wide["face_idx"] = 0
    for model, frame in study_layout.items():
        for col in [*(prob_column(e) for e in STUDY_CLASSES), "emotion", "confidence"]:
            wide[f"{model}__{col}"] = frame[col].to_numpy()
    return {movie: part.reset_index(drop=True) for movie, part in wide.groupby("movie")}


@pytest.fixture(scope="session")
def movie_list() -> list[dict[str, str]]:
    return [
        {"file_name": f"{movie}.mp4", "title": movie.replace("_", " ").title(), "category": genre}
        for movie, (genre, _main) in FILMS.items()
    ]


# ---------------------------------------------------------------------------------------------------
# Headless Chromium
# ---------------------------------------------------------------------------------------------------


def _install_chromium() -> str | None:
    """Install Debian's chromium when missing; None and a reason when that cannot be done."""
    if shutil.which("apt-get") is None:
        return "chromium is missing and apt-get is not available"
    if os.geteuid() != 0:
        return "chromium is missing and the tests are not run as root (apt-get install -y chromium)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
        if done.returncode != 0:
            return f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-500:]}"
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of the chromium binary (installed on first use where possible)."""
    path = shutil.which("chromium")
    if path is None:
        from filelock import FileLock  # test workers in parallel (pytest-xdist): one apt-get at a time

        with FileLock(Path(tempfile.gettempdir()) / "expressions_ensemble-chromium.lock"):
            path = shutil.which("chromium")
            reason = _install_chromium() if path is None else None
            path = shutil.which("chromium")
        if path is None:
            pytest.skip(f"headless Chromium unavailable: {reason}")
    return path


@dataclass
class PageReport:
    """What the browser saw: images' natural sizes, console errors, uncaught exceptions, and by how many
    pixels the page is wider than its 1280 px window (0: no horizontal scrolling)."""

    images: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    title: str = ""
    height: int = 0
    overflow_px: int = 0


class _Pipe:
    """Newline-free JSON messages separated by NUL over Chromium's debugging pipe."""

    def __init__(self, proc: subprocess.Popen, timeout: float) -> None:
        self.proc = proc
        self.deadline = time.monotonic() + timeout
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.proc.stdin.write(json.dumps(msg).encode() + b"\0")
        self.proc.stdin.flush()
        return self.next_id

    def _read(self) -> dict:
        while b"\0" not in self.buffer:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("chromium did not answer in time")
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the debugging pipe")
                self.buffer += chunk
        raw, _, self.buffer = self.buffer.partition(b"\0")
        return json.loads(raw)

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        msg_id = self.send(method, params, session)
        while True:
            msg = self._read()
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_event(self, method: str) -> dict:
        for i, msg in enumerate(self.events):
            if msg.get("method") == method:
                return self.events.pop(i)
        while True:
            msg = self._read()
            if msg.get("method") == method:
                return msg
            self.events.append(msg)


_IMAGES_JS = """JSON.stringify(Array.from(document.images).map(i => ({
  alt: i.alt, complete: i.complete, naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight})))"""


_OVERFLOW_JS = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


def _evaluate(pipe: _Pipe, session: str, expression: str) -> object:
    result = pipe.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session)
    return result["result"]["value"]


def render_page(chromium: str, page: Path, screenshot: Path, timeout: float = 60.0) -> PageReport:
    """Open ``page`` in headless Chromium, collect images and errors, save a full-page screenshot."""
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    args = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"]
    # The debugging pipe is fd 3 (commands in) and fd 4 (answers out): map them onto our pipes.
    shell = 'exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>/dev/null'
    proc = subprocess.Popen(
        ["sh", "-c", shell, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    report = PageReport()
    try:
        pipe = _Pipe(proc, timeout)
        target = pipe.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
            pipe.call(domain, session=session)
        pipe.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        pipe.call("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
        pipe.wait_event("Page.loadEventFired")
        report.images = json.loads(_evaluate(pipe, session, _IMAGES_JS))
        report.title = _evaluate(pipe, session, "document.title")
        report.overflow_px = int(_evaluate(pipe, session, _OVERFLOW_JS))
        metrics = pipe.call("Page.getLayoutMetrics", session=session)
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        report.height = int(size["height"])
        clip = {"x": 0, "y": 0, "width": 1280, "height": min(report.height, 16000), "scale": 1}
        shot = pipe.call(
            "Page.captureScreenshot",
            {"format": "png", "clip": clip, "captureBeyondViewport": True},
            session=session,
        )
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        for msg in pipe.events:
            method, params = msg.get("method"), msg.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                report.errors.append(f"console.{params['type']}: {params.get('args')}")
            elif method == "Runtime.exceptionThrown":
                report.errors.append(f"exception: {params.get('exceptionDetails', {}).get('text')}")
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                report.errors.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
        with contextlib.suppress(RuntimeError, TimeoutError):
            pipe.call("Browser.close")
    finally:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)
    return report


@pytest.fixture(scope="session")
def browser(chromium: str) -> Callable[[Path, Path], PageReport]:
    """``browser(page, screenshot)`` renders a page and reports what Chromium saw."""
    return lambda page, screenshot: render_page(chromium, page, screenshot)
