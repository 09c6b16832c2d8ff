import numpy as np
import pytest

from expressions_ensemble.faces import FaceBox, create_detector, mediapipe_model_path, select_faces
from expressions_ensemble.imaging import decode_image


def test_model_ships_as_package_data():
    path = mediapipe_model_path()
    assert path.stat().st_size == 229_714
    assert (path.parent / "NOTICE").is_file() and (path.parent / "LICENSE-mediapipe").is_file()


def test_unknown_backend_names_allowed_values():
    with pytest.raises(ValueError, match="unknown backend 'dlib'; allowed: mediapipe, haar"):
        create_detector("dlib")
    with pytest.raises(ValueError, match="min_confidence"):
        create_detector("mediapipe", min_confidence=2)


def test_select_faces_policies():
    big, small, mid = FaceBox(0, 0, 100, 100, 0.6), FaceBox(0, 0, 10, 10, 0.99), FaceBox(0, 0, 50, 60, 0.9)
    assert select_faces([], "largest") == ([], "no_face")
    assert select_faces([small], "largest", min_size=20) == ([], "face_too_small")
    assert select_faces([small, big], "largest", 20) == ([big], "kept")
    assert select_faces([small, big], "single_only", 20) == ([big], "kept")  # tiny face ignored first
    assert select_faces([mid, big], "single_only", 20) == ([], "multiple_faces")
    assert select_faces([mid, big], "all") == ([big, mid], "kept")
    with pytest.raises(ValueError, match="allowed: largest, single_only, all"):
        select_faces([big], "biggest")


def test_blank_image_has_no_face():
    det = create_detector("mediapipe")
    try:
        assert det.detect(np.full((240, 320, 3), 128, np.uint8)) == []
    finally:
        det.close()


@pytest.mark.shared_data
def test_mediapipe_finds_faces_in_real_photos(shared_data):
    """The issue's bar: a face in at least 97% of the muxspace photos."""
    files = sorted((shared_data / "muxspace" / "images").glob("*.jpg"))
    assert len(files) > 1000
    det = create_detector("mediapipe", min_confidence=0.5)
    try:
        found = 0
        for f in files:
            rgb = decode_image(f.read_bytes())
            boxes = det.detect(rgb)
            found += bool(boxes)
            for b in boxes:
                assert b.x >= 0 and b.x + b.w <= rgb.shape[1] and b.y >= 0 and b.y + b.h <= rgb.shape[0]
                (rx, _ry), (lx, ly) = b.eyes  # the subject's right eye is on the image's left
                assert rx < lx and b.x - b.w < rx < b.x + b.w and b.y - b.h < ly < b.y + b.h
    finally:
        det.close()
    rate = found / len(files)
    print(f"mediapipe face rate on muxspace: {found}/{len(files)} = {rate:.3f}")
    assert rate >= 0.97


@pytest.mark.shared_data
def test_haar_backend_on_real_photos(shared_data):
    files = sorted((shared_data / "muxspace" / "images").glob("*.jpg"))[:60]
    det = create_detector("haar", min_confidence=0.5)
    found = sum(bool(det.detect(decode_image(f.read_bytes()))) for f in files)
    assert found >= 0.8 * len(files)


def test_small_images_are_enlarged_by_a_whole_factor_and_large_ones_left_alone():
    from expressions_ensemble.faces import enlarge_small

    small = np.zeros((48, 40, 3), np.uint8)
    assert enlarge_small(small).shape == (192, 160, 3)  # 40 px -> x4 = 160 >= 144
    large = np.zeros((200, 300, 3), np.uint8)
    assert enlarge_small(large) is large
