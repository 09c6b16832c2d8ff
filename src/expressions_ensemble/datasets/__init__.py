"""Kedro datasets the project needs and Kedro lacks."""

from expressions_ensemble.datasets.photo_folder import PhotoFolder, PhotoFolderDataset

__all__ = ["PhotoFolder", "PhotoFolderDataset"]
