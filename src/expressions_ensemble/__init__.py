"""Expressions Ensemble: facial-emotion classifiers from weakly labelled web photos."""

__version__ = "0.1.0"
