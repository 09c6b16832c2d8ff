"""Offline simulation of the study's inputs: drawn faces, a noisy stock-photo search and a posed lab set.

Knows nothing of Kedro (numpy, OpenCV and :mod:`expressions_ensemble.labels` only) and downloads nothing;
every output is a pure function of a seed. See :mod:`.render` for the drawing and :mod:`.search` for the
service and its noise model.
"""

from expressions_ensemble.simulation.render import (
    HAIR_STYLES,
    LOOKS,
    VARIANTS,
    FaceSpec,
    Look,
    Scene,
    draw_face,
    face_box,
    get_look,
    random_face_spec,
    render_background,
    render_photo,
    render_scene,
)
from expressions_ensemble.simulation.search import (
    CONFUSIONS,
    DEFAULT_NOISE,
    KEYWORDS_V1,
    KEYWORDS_V2,
    LEXICON,
    MAX_PER_PAGE,
    LabImage,
    SimulatedPage,
    SimulatedPhoto,
    SimulatedStockService,
    query_keyword,
    render_lab_dataset,
)

__all__ = [
    "CONFUSIONS",
    "DEFAULT_NOISE",
    "HAIR_STYLES",
    "KEYWORDS_V1",
    "KEYWORDS_V2",
    "LEXICON",
    "LOOKS",
    "MAX_PER_PAGE",
    "VARIANTS",
    "FaceSpec",
    "LabImage",
    "Look",
    "Scene",
    "SimulatedPage",
    "SimulatedPhoto",
    "SimulatedStockService",
    "draw_face",
    "face_box",
    "get_look",
    "query_keyword",
    "random_face_spec",
    "render_background",
    "render_lab_dataset",
    "render_photo",
    "render_scene",
]
