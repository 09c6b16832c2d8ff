"""Ingestion: weakly labelled photos from each source, with a manifest of every hit."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
