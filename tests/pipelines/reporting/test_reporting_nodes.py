"""Reporting nodes: what the report says about films movie_eval could not read."""

import pandas as pd


def test_films_movie_eval_could_not_read_are_named_in_the_quality_log():
    from expressions_ensemble.pipelines.reporting.nodes import film_status_quality

    status = pd.DataFrame(
        {
            "movie": ["a", "b", "c", "d"],
            "outcome": ["ok", "truncated", "no_faces", "truncated"],
        }
    )
    rows = film_status_quality(status)
    assert rows["check"].tolist() == ["film_truncated"]
    assert rows["count"].tolist() == [2] and rows["detail"].str.contains("b, d").all()
    assert film_status_quality(None).empty
