import pytest
from kedro.io import DatasetError

from expressions_ensemble.datasets import CredentialsFileDataset


def test_missing_file_is_empty_and_values_never_described(tmp_path):
    assert CredentialsFileDataset(str(tmp_path / "none.yml")).load() == {}
    path = tmp_path / "credentials.yml"
    path.write_text("pexels_api_key: s3cr3t\n")
    ds = CredentialsFileDataset(str(path))
    assert ds.load() == {"pexels_api_key": "s3cr3t"}
    assert "s3cr3t" not in repr(ds)
    with pytest.raises(DatasetError, match="read-only"):
        ds.save({"x": 1})
    path.write_text("- a list\n")
    with pytest.raises(DatasetError, match="expected a mapping"):
        ds.load()
