"""The home of the film report: prediction tables in, figures, tables and one HTML page out.

* :mod:`.predictions` — every prediction layout into one canonical long table (and ground truths)
* :mod:`.films` — the movie list and its match with the predictions' film names
* :mod:`.tables` — the study's per-film summary and its check against the study's own files
* :mod:`.validity` — ecological-validity tables (definitions in :mod:`expressions_ensemble.metrics`)
* :mod:`.claims` — the study's claims checked against those tables
* :mod:`.figures`, :mod:`.html` — the pictures and the self-contained page
* :mod:`.config` — the ``reporting`` parameters, validated

The Kedro pipeline ``reporting`` only wires these together.
"""
