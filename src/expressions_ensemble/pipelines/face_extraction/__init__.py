"""Face extraction: one face crop per kept photo, with a manifest and counts."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
