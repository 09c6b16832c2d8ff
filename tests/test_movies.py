"""Movie lists: one parser for the dataset, movie_eval and the report; matching by folder and stem."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from expressions_ensemble.datasets.films import MovieListDataset, VideoFolderDataset
from expressions_ensemble.movies import MovieListError, match_films, parse_movie_list, read_movie_list


def _rows(*names: str) -> list[dict[str, object]]:
    return [{"file_name": n, "title": n.upper(), "category": "Comedy"} for n in names]


def test_columns_are_checked_and_others_kept():
    table = parse_movie_list([{**_rows("a.mp4")[0], "year": 1999}, {**_rows("b")[0], "year": None}])
    assert list(table["movie"]) == ["a", "b"] and table.loc[0, "year"] == 1999
    assert list(table.columns) == ["file_name", "title", "category", "year", "movie", "folder"]
    with pytest.raises(MovieListError, match=r"missing columns \['category'\]"):
        parse_movie_list([{"file_name": "a", "title": "A"}])
    genre = parse_movie_list([{"file_name": "heat", "title": None, "genre": "Crime"}])
    assert genre.loc[0, "category"] == "Crime" and genre.loc[0, "title"] == "heat"  # no title: its name
    with pytest.raises(MovieListError, match="both 'category' and 'genre'"):
        parse_movie_list([{"file_name": "a", "title": "A", "category": "x", "genre": "y"}])
    with pytest.raises(MovieListError, match="expected a list"):
        parse_movie_list("not a list")
    # a checked list passes again unchanged (the catalog saves and loads it between nodes)
    pd.testing.assert_frame_equal(parse_movie_list(table), table)


def test_values_are_type_checked_by_row_and_column():
    with pytest.raises(MovieListError, match=r"row 2, column file_name: got 123 \(int\); allowed: text"):
        parse_movie_list([*_rows("a"), {"file_name": 123, "title": "B", "category": "Comedy"}])
    with pytest.raises(MovieListError, match=r"row 1, column category: got \{'name': 'Comedy'\} \(dict\)"):
        parse_movie_list([{"file_name": "a", "title": "A", "category": {"name": "Comedy"}}])
    with pytest.raises(MovieListError, match=r"row 1, column title: got \['A'\] \(list\)"):
        parse_movie_list([{"file_name": "a", "title": ["A"], "category": "Comedy"}])
    with pytest.raises(MovieListError, match="row 2 has no file_name"):
        parse_movie_list([*_rows("a"), {"file_name": " ", "title": "B", "category": "Comedy"}])
    for outside in ("../secret.mp4", "/films/a.mp4"):
        with pytest.raises(MovieListError, match="must be a path inside the films folder"):
            parse_movie_list(_rows(outside))


def test_a_film_listed_twice_is_an_error_naming_it():
    for names in (("heat.mp4", "heat.mkv"), ("heat", "crime/heat.mp4"), ("a", "a")):
        with pytest.raises(
            MovieListError, match=r"film 'heat' listed twice \(rows 1 and 2\)|film 'a' listed"
        ):
            parse_movie_list(_rows(*names))


def test_json_and_csv_files_read_alike(tmp_path):
    rows = [*_rows("mead/W009_angry", "heat.mkv")]
    js = tmp_path / "list.json"
    js.write_text(json.dumps({"movies": rows}))
    csv = tmp_path / "list.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    pd.testing.assert_frame_equal(read_movie_list(js), read_movie_list(csv))
    assert list(read_movie_list(js)["folder"]) == ["mead", ""]
    dup = tmp_path / "dup.csv"
    dup.write_text("file_name,title,title,category\na,A,A2,Comedy\n")
    with pytest.raises(MovieListError, match=r"columns \['title'\] appear more than once"):
        read_movie_list(dup)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"file_name": 123, "title": "x", "category": "c"}]))
    with pytest.raises(Exception, match=r"bad\.json: row 1, column file_name"):
        MovieListDataset(str(bad)).load()
    # the dataset writes what it reads, in the format of its extension
    for target in (tmp_path / "out.json", tmp_path / "out.csv"):
        MovieListDataset(str(target)).save(read_movie_list(js))
        pd.testing.assert_frame_equal(MovieListDataset(str(target)).load(), read_movie_list(js))


def test_files_match_by_folder_and_stem_with_any_video_extension(tmp_path):
    for name in ("2_guns.mkv", "heat.MOV", "up.mp4", "up.avi", "notes.txt", "mead/W009_angry.mp4",
                 "other/W011_sad.mp4", ".hidden/x.mp4"):  # fmt: skip
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    files = VideoFolderDataset(str(tmp_path)).load()
    assert "mead/W009_angry.mp4" in files and not any(k.startswith(".hidden") for k in files)
    listed = _rows("2_guns.mp4", "heat", "up", "gone", "mead/W009_angry.mp4", "W011_sad")
    out = match_films(listed, files).set_index("movie")
    assert out.loc["2_guns", "path"] == str(tmp_path / "2_guns.mkv") and out.loc["heat", "match"] == "found"
    assert out.loc["up", "match"] == "ambiguous" and "up.avi" in out.loc["up", "detail"]
    assert out.loc["gone", "match"] == "missing_file" and pd.isna(out.loc["gone", "path"])
    assert out.loc["W009_angry", "path"] == str(tmp_path / "mead" / "W009_angry.mp4")
    # a plain name is looked for in the films folder itself, not in every sub-folder
    assert (
        out.loc["W011_sad", "match"] == "missing_file" and "the films folder" in out.loc["W011_sad", "detail"]
    )
    again = match_films(_rows("other/W011_sad"), files)
    assert again.loc[0, "path"] == str(tmp_path / "other" / "W011_sad.mp4")


@pytest.mark.shared_data
def test_the_shared_clips_list_matches_its_folder(shared_data):
    videos = shared_data / "videos"
    out = match_films(read_movie_list(videos / "movie_list.json"), VideoFolderDataset(str(videos)).load())
    assert (out["match"] == "found").all(), out.loc[out["match"] != "found", ["file_name", "detail"]]
    assert (out["folder"] == "mead").sum() == 16
