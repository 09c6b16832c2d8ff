"""ModelArtifactDataset: the catalog saves (model, spec) atomically and loads a ready model."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from kedro.io import DataCatalog, DatasetError

from expressions_ensemble.datasets.model_artifact import ModelArtifactDataset
from expressions_ensemble.models import LoadedModel, ModelArtifactError, ModelSpec, create_model

CLASSES = ("fear", "happy", "surprise")


@pytest.fixture(scope="module")
def model_and_spec() -> tuple[torch.nn.Module, ModelSpec]:
    torch.manual_seed(1)
    model = create_model("mobilenetv2_100", CLASSES, pretrained="none").eval()
    spec = ModelSpec.from_model(model, CLASSES, input_size=48, metadata={"source": "lab"})
    return model, spec


@dataclass
class Trained:
    """What a training node might return: an object carrying both."""

    model: torch.nn.Module
    spec: ModelSpec


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("form", ["tuple", "mapping", "object"])
def test_save_forms_and_load_a_ready_model(model_and_spec, tmp_path, form):
    model, spec = model_and_spec
    data = {"tuple": (model, spec), "mapping": {"model": model, "spec": spec}, "object": Trained(model, spec)}
    dataset = ModelArtifactDataset(filepath=str(tmp_path / "06_models" / "member.eeart"))
    assert not dataset.exists()
    dataset.save(data[form])
    assert dataset.exists()
    loaded = dataset.load()
    assert isinstance(loaded, LoadedModel) and not loaded.training
    assert loaded.spec == spec
    assert _same_weights(loaded.model, model)
    assert loaded.predict_proba([np.zeros((48, 48, 3), np.uint8)]).shape == (1, len(CLASSES))
    assert [p.name for p in (tmp_path / "06_models").iterdir()] == ["member.eeart"]  # no temporary left


def test_through_the_catalog(model_and_spec, tmp_path):
    model, spec = model_and_spec
    catalog = DataCatalog.from_config(
        {
            "sim_v1.model": {
                "type": "expressions_ensemble.datasets.model_artifact.ModelArtifactDataset",
                "filepath": str(tmp_path / "sim_v1.eeart"),
            }
        }
    )
    catalog.save("sim_v1.model", (model, spec))
    loaded = catalog.load("sim_v1.model")
    assert loaded.classes == CLASSES and _same_weights(loaded.model, model)
    # A loaded model can be saved again as is (it carries its spec).
    copy = ModelArtifactDataset(filepath=str(tmp_path / "copy.eeart"))
    copy.save(loaded)
    assert copy.load().spec == spec


def test_wrong_save_data_names_the_accepted_forms(model_and_spec, tmp_path):
    model, spec = model_and_spec
    dataset = ModelArtifactDataset(filepath=str(tmp_path / "m.eeart"))
    with pytest.raises(DatasetError, match=r"m\.eeart: cannot save dict; expected \(model, spec\)"):
        dataset.save({"weights": model})
    with pytest.raises(
        DatasetError, match="expected a torch module and a ModelSpec, got Sequential and dict"
    ):
        dataset.save((torch.nn.Sequential(), spec.to_dict()))
    assert not Path(tmp_path / "m.eeart").exists()


def test_a_failed_save_keeps_the_previous_file(model_and_spec, tmp_path):
    model, spec = model_and_spec
    path = tmp_path / "m.eeart"
    dataset = ModelArtifactDataset(filepath=str(path))
    dataset.save((model, spec))
    before = path.read_bytes()
    wrong = ModelSpec(**{**spec.to_dict(), "classes": ("fear", "happy")})
    with pytest.raises(DatasetError, match="do not fit mobilenetv2_100 with 2 classes"):
        dataset.save((model, wrong))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.eeart"]


def test_loading_a_foreign_file_fails_with_the_reason(tmp_path):
    path = tmp_path / "checkpoint.pt"
    torch.save({"model": torch.nn.Linear(2, 2).state_dict()}, path)
    dataset = ModelArtifactDataset(filepath=str(path))
    with pytest.raises(DatasetError, match=r"checkpoint\.pt: a plain PyTorch checkpoint") as err:
        dataset.load()
    assert isinstance(err.value.__cause__, ModelArtifactError)
    assert "checkpoint.pt" in str(dataset)
