"""The simulated stock-photo service: determinism, lexicons, noise, duplicates, paging and the lab set."""

from __future__ import annotations

from collections import Counter

import cv2
import numpy as np
import pytest

from expressions_ensemble.labels import EMOTIONS
from expressions_ensemble.simulation import (
    CONFUSIONS,
    DEFAULT_NOISE,
    KEYWORDS_V1,
    KEYWORDS_V2,
    LEXICON,
    MAX_PER_PAGE,
    SimulatedPhoto,
    SimulatedStockService,
    query_keyword,
    render_lab_dataset,
)


def _all(service: SimulatedStockService, text: str, per_page: int = MAX_PER_PAGE) -> list[SimulatedPhoto]:
    out, page = [], 1
    while True:
        result = service.search(text, page, per_page)
        out.extend(result.results)
        if not result.has_next:
            return out
        page += 1


def _decode(data: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert img is not None
    return img


def test_v1_and_v2_keywords_map_to_their_emotions() -> None:
    assert set(KEYWORDS_V1) == set(EMOTIONS) == set(KEYWORDS_V2)
    assert KEYWORDS_V1["surprise"] == "surprised" and KEYWORDS_V1["disgust"] == "disgust"
    for emotion, keyword in KEYWORDS_V1.items():
        assert LEXICON[keyword] == emotion
        assert query_keyword(f"{keyword} face") == keyword
    for emotion, words in KEYWORDS_V2.items():
        assert len(words) == 3
        for word in words:
            assert LEXICON[word] == emotion
    assert KEYWORDS_V2["fear"] == ("fear", "afraid", "scared")
    assert KEYWORDS_V2["neutral"] == ("neutral", "calm", "expressionless")
    # stemming-like aliases fall back to the v1 keyword; unknown text has none
    assert query_keyword("Surprise Face") == "surprised"
    assert query_keyword("a scared person") == "scared"
    assert query_keyword("red bicycle") is None


def test_each_keyword_mostly_returns_its_emotion() -> None:
    service = SimulatedStockService(3)
    for keyword, emotion in LEXICON.items():
        page = service.search(f"{keyword} face", 1, MAX_PER_PAGE)
        assert page.keyword == keyword
        main = Counter(p.shown[0] for p in page.results if p.shown)
        assert main.most_common(1)[0][0] == emotion, (keyword, main)


def test_same_seed_same_results_and_bytes_other_seed_differs() -> None:
    a, b, c = SimulatedStockService(5), SimulatedStockService(5), SimulatedStockService(6)
    page_a, page_b, page_c = (s.search("happy face", 2, 10) for s in (a, b, c))
    assert page_a == page_b
    assert [p.id for p in page_a.results] != [p.id for p in page_c.results]
    first = page_a.results[0]
    data = first.fetch()
    assert data == page_b.results[0].fetch() == first.fetch()
    assert data[:2] == b"\xff\xd8"  # JPEG
    assert data != page_c.results[0].fetch()
    img = _decode(data)
    assert img.ndim == 3 and 256 <= img.shape[0] <= 512 and 256 <= img.shape[1] <= 512
    assert first.url == f"sim://stock/photo/{first.id}"
    assert first.tags and first.photographer


def test_results_do_not_depend_on_page_size_and_paging_ends() -> None:
    service = SimulatedStockService(7)
    big = _all(service, "sad face", per_page=MAX_PER_PAGE)
    small = _all(service, "sad face", per_page=7)
    assert [p.id for p in big] == [p.id for p in small]
    total = service.search("sad face", 1, 5).total
    assert len(big) == total and 120 <= total <= 300
    last_page = -(-total // 25)
    assert service.search("sad face", last_page, 25).has_next is False
    assert service.search("sad face", last_page - 1, 25).has_next is True
    beyond = service.search("sad face", last_page + 1, 25)
    assert beyond.results == [] and beyond.has_next is False and beyond.total == total


@pytest.mark.parametrize(("keyword", "share"), [("fear", 0.3), ("smiling", 0.08), ("irate", 0.4)])
def test_noise_share_follows_the_configuration(keyword: str, share: float) -> None:
    service = SimulatedStockService(
        8, noise={keyword: share}, results_range=(3000, 3000), duplicate_share=0.1
    )
    photos = _all(service, f"{keyword} face")
    assert len(photos) == 3000
    target = LEXICON[keyword]
    with_face = [p for p in photos if p.shown]
    off = [p.shown[0] for p in with_face if p.shown[0] != target]
    assert abs(len(off) / len(with_face) - share) < 0.03
    # wrong photos come from the plausible neighbours, the most likely one most often
    assert set(off) <= set(CONFUSIONS[target])
    assert Counter(off).most_common(1)[0][0] == max(CONFUSIONS[target], key=CONFUSIONS[target].get)


def test_default_noise_is_keyword_dependent_and_sensible() -> None:
    assert set(DEFAULT_NOISE) == set(LEXICON)
    assert all(0.05 <= v <= 0.4 for v in DEFAULT_NOISE.values())
    assert DEFAULT_NOISE["fear"] > DEFAULT_NOISE["happy"] and DEFAULT_NOISE["calm"] > DEFAULT_NOISE["smiling"]
    assert "surprise" in CONFUSIONS["fear"] and "fear" in CONFUSIONS["surprise"]
    assert "neutral" in CONFUSIONS["sad"] and "sad" in CONFUSIONS["neutral"]
    assert "disgust" in CONFUSIONS["angry"] and "angry" in CONFUSIONS["disgust"]


def test_no_face_and_multi_face_shares() -> None:
    service = SimulatedStockService(9, results_range=(1500, 1500))
    photos = [p for kw in ("happy", "angry", "calm") for p in _all(service, kw)]
    unique = {p.id: p for p in photos}.values()
    counts = Counter(min(len(p.shown), 2) for p in unique)
    n = sum(counts.values())
    assert 0.04 <= counts[0] / n <= 0.08
    assert 0.03 <= counts[2] / n <= 0.07
    assert max(len(p.shown) for p in unique) == 3


def test_duplicates_recur_across_keywords_with_identical_bytes() -> None:
    service = SimulatedStockService(10)
    seen: dict[str, set[str]] = {}
    photos: dict[str, SimulatedPhoto] = {}
    for keyword in LEXICON:
        for photo in _all(service, keyword):
            seen.setdefault(photo.id, set()).add(keyword)
            photos[photo.id] = photo
    shared = [pid for pid, kws in seen.items() if len(kws) > 1]
    assert len(shared) >= 20
    # synonyms share photos ("angry" and "mad" return the same picture)
    assert any({"angry", "mad"} <= seen[pid] for pid in shared)
    pid = shared[0]
    again = SimulatedStockService(10)
    twin = next(p for kw in sorted(seen[pid]) for p in _all(again, kw) if p.id == pid)
    assert twin.fetch() == photos[pid].fetch()
    assert twin.shown == photos[pid].shown


def test_unknown_query_returns_a_generic_mixed_set() -> None:
    service = SimulatedStockService(11, generic_results=70)
    page = service.search("red bicycle", 1, MAX_PER_PAGE)
    assert page.keyword is None and page.total == 70 and not page.has_next
    assert len({p.shown[0] for p in page.results if p.shown}) >= 5
    assert service.search("red  bicycle!", 1, MAX_PER_PAGE) == page
    assert service.search("blue bicycle", 1, MAX_PER_PAGE).results != page.results


def test_bad_requests_fail_clearly() -> None:
    service = SimulatedStockService(12)
    with pytest.raises(ValueError, match="page"):
        service.search("happy face", 0, 10)
    with pytest.raises(ValueError, match="per_page"):
        service.search("happy face", 1, MAX_PER_PAGE + 1)
    with pytest.raises(ValueError, match="word"):
        service.search("  ", 1, 10)
    with pytest.raises(ValueError, match="unknown keyword"):
        SimulatedStockService(1, noise={"furious": 0.2})
    with pytest.raises(ValueError, match="within"):
        SimulatedStockService(1, no_face_share=1.5)


def test_lab_dataset_is_grey_48_balanced_and_deterministic() -> None:
    items = list(render_lab_dataset(4, {"angry": 3, "happy": 2, "surprise": 2}))
    assert [i.emotion for i in items] == ["angry"] * 3 + ["happy"] * 2 + ["surprise"] * 2
    assert len({i.id for i in items}) == 7
    for item in items:
        img = _decode(item.data)
        assert item.data[:4] == b"\x89PNG" and img.shape == (48, 48)
    again = list(render_lab_dataset(4, {"angry": 5}))
    assert [i.data for i in again[:3]] == [i.data for i in items[:3]]  # more images extend the set
    other = list(render_lab_dataset(5, {"angry": 3}))
    assert [i.data for i in other] != [i.data for i in items[:3]]
    assert [i.emotion for i in render_lab_dataset(4, {"anger": 1})] == ["angry"]
    with pytest.raises(ValueError, match="allowed"):
        list(render_lab_dataset(4, {"joy-ish": 1}))
