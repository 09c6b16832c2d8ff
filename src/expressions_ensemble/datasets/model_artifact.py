"""The self-describing model artifact as a Kedro dataset: load a ready model, save model + spec atomically.

The format and its checks live in :mod:`expressions_ensemble.models.artifact`; this class only
connects them to the catalog, so a training node returns ``(model, spec)`` and an evaluation node
receives a :class:`~expressions_ensemble.models.LoadedModel` with ``predict_proba``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io import AbstractDataset, DatasetError
from torch import nn

from expressions_ensemble.files import write_atomic
from expressions_ensemble.models.artifact import LoadedModel, ModelSpec, artifact_bytes, load_artifact
from expressions_ensemble.models.ensemble import EnsembleModel, ensemble_bytes

SAVE_FORMS = "(model, spec), {'model': ..., 'spec': ...} or an object with .model and .spec"


def _model_and_spec(data: Any, where: str) -> tuple[nn.Module, ModelSpec]:
    if isinstance(data, tuple | list) and len(data) == 2:
        model, spec = data
    elif isinstance(data, Mapping) and {"model", "spec"} <= set(data):
        model, spec = data["model"], data["spec"]
    elif hasattr(data, "model") and hasattr(data, "spec"):
        model, spec = data.model, data.spec
    else:
        raise DatasetError(f"{where}: cannot save {type(data).__name__}; expected {SAVE_FORMS}")
    if not isinstance(model, nn.Module) or not isinstance(spec, ModelSpec):
        raise DatasetError(
            f"{where}: expected a torch module and a ModelSpec, got {type(model).__name__} and "
            f"{type(spec).__name__}"
        )
    return model, spec


class ModelArtifactDataset(AbstractDataset[Any, "LoadedModel | EnsembleModel"]):
    """One model artifact file (``filepath``): ``load`` gives a ready model, ``save`` takes model + spec.

    ``save`` accepts ``(model, spec)``, a mapping with ``model`` and ``spec``, an object carrying
    both (a :class:`~expressions_ensemble.models.LoadedModel` among them) or an ensemble; the file is
    replaced atomically. A file that is not an artifact fails loading with the reason in the message.
    """

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        # ``_filepath`` is the attribute kedro-mlflow's MlflowArtifactDataset reads to log the file.
        self._filepath = PurePosixPath(filepath)
        self.metadata = metadata

    def load(self) -> LoadedModel | EnsembleModel:
        return load_artifact(Path(self._filepath))

    def save(self, data: Any) -> None:
        if isinstance(data, EnsembleModel):
            write_atomic(Path(self._filepath), ensemble_bytes(data))
            return
        model, spec = _model_and_spec(data, str(self._filepath))
        write_atomic(Path(self._filepath), artifact_bytes(model, spec))

    def _exists(self) -> bool:
        return Path(self._filepath).is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
