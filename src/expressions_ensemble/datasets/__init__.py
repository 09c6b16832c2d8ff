"""Kedro datasets the project needs and Kedro lacks."""

from expressions_ensemble.datasets.checkpoints import CheckpointFolderDataset
from expressions_ensemble.datasets.credentials import CredentialsFileDataset
from expressions_ensemble.datasets.model_artifact import ModelArtifactDataset
from expressions_ensemble.datasets.photo_folder import PhotoFolder, PhotoFolderDataset
from expressions_ensemble.datasets.reporting_io import FigureFolderDataset, OptionalDataset
from expressions_ensemble.datasets.score_cache import ScoreCacheDataset

__all__ = [
    "CheckpointFolderDataset",
    "CredentialsFileDataset",
    "FigureFolderDataset",
    "ModelArtifactDataset",
    "OptionalDataset",
    "PhotoFolder",
    "PhotoFolderDataset",
    "ScoreCacheDataset",
]
