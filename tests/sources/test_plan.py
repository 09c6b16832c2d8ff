import pytest

from expressions_ensemble.sources import build_source
from expressions_ensemble.sources.plan import build_search_plan

VARIANTS = {
    "v1": {"template": "{keyword} face", "keywords": {"angry": ["angry"], "surprise": ["surprised"]}},
    "v2": {"template": "{keyword}", "keywords": {"angry": ["angry", "mad"], "surprise": ["shocked"]}},
}


def test_v1_and_combined_variants():
    v1 = build_search_plan("s", {"kind": "simulator", "variant": "v1"}, VARIANTS)
    assert [(q.query, q.keyword, q.weak_label) for q in v1] == [
        ("angry face", "angry", "angry"),
        ("surprised face", "surprised", "surprise"),
    ]
    both = build_search_plan("s", {"kind": "simulator", "variant": ["v1", "v2"]}, VARIANTS)
    assert [q.query for q in both] == ["angry face", "surprised face", "angry", "mad", "shocked"]


def test_folder_sources_have_no_plan():
    assert build_search_plan("f", {"kind": "folder", "path": "x"}, VARIANTS) == []


@pytest.mark.parametrize(
    ("source", "variants", "message"),
    [
        ({"kind": "simulator"}, VARIANTS, r"ingestion.sources.s.variant is required; allowed: v1, v2"),
        ({"kind": "simulator", "variant": "v9"}, VARIANTS, r"unknown keyword variant 'v9'; allowed: v1, v2"),
        ({"kind": "simulator", "variant": 3}, VARIANTS, r"expected a keyword variant name"),
        (
            {"kind": "simulator", "variant": "v"},
            {"v": {"template": "x", "keywords": {"sad": ["s"]}}},
            "{keyword}",
        ),
        (
            {"kind": "simulator", "variant": "v"},
            {"v": {"keywords": {"bored": ["b"]}}},
            "'bored' is not an emotion",
        ),
    ],
)
def test_bad_plans_name_the_key(source, variants, message):
    with pytest.raises(ValueError, match=message):
        build_search_plan("s", source, variants)


def test_unknown_source_kind_names_allowed_kinds():
    with pytest.raises(
        ValueError, match=r"ingestion.sources.x.kind: unknown source kind 'flickr'; allowed: .*folder"
    ):
        build_source("x", {"kind": "flickr"})
