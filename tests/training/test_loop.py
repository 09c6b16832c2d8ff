import pytest
import torch
from torch import nn

from expressions_ensemble.datasets.checkpoints import FileCheckpointStore
from expressions_ensemble.training.loop import (
    FitConfig,
    TrainingDivergedError,
    batch_bounds,
    class_weights,
    fit,
)

MEAN, STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)


def _data(n: int, seed: int) -> tuple[torch.Tensor, list[int]]:
    """Class k = the bright quadrant k: learnable in a few epochs by a tiny CNN."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 60, (n, 3, 16, 16), generator=g, dtype=torch.uint8)
    y = torch.randint(0, 4, (n,), generator=g)
    for i, k in enumerate(y.tolist()):
        r, c = divmod(k, 2)
        x[i, :, r * 8 : r * 8 + 8, c * 8 : c * 8 + 8] += 150
    return x, y.tolist()


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, 4)
    )


CFG = FitConfig(learning_rate=0.01, batch_size=16, epochs=6, patience=10, augmentation="none")


def _interrupt_at_epoch_3(cfg: FitConfig, store: FileCheckpointStore, data: tuple) -> None:
    """A run stopped (KeyboardInterrupt) after epoch 3's metrics, before its checkpoint is written."""
    xt, yt, xv, yv = data

    def stop(epoch: int, row: dict) -> None:
        if epoch == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(_model(), xt, yt, xv, yv, 4, MEAN, STD, cfg, checkpoints=store, data_key="d", progress=stop)


def test_learns_and_keeps_history():
    xt, yt = _data(256, 0)
    xv, yv = _data(64, 1)
    result = fit(_model(), xt, yt, xv, yv, 4, MEAN, STD, CFG)
    assert result.best_val_macro_f1 > 0.9
    assert list(result.history["epoch"]) == list(range(1, 7))
    assert {"train_loss", "val_loss", "val_accuracy", "val_macro_f1"} <= set(result.history.columns)


def test_early_stopping_keeps_the_best_epoch():
    xt, yt = _data(64, 0)
    xv, yv = _data(32, 1)
    cfg = FitConfig(learning_rate=1e-9, batch_size=16, epochs=20, patience=2, augmentation="none")
    result = fit(_model(), xt, yt, xv, yv, 4, MEAN, STD, cfg)
    assert result.stopped == "early_stopping" and len(result.history) == result.best_epoch + 2


def test_interrupted_run_resumes_where_it_stopped(tmp_path):
    xt, yt = _data(128, 0)
    xv, yv = _data(32, 1)
    store = FileCheckpointStore(tmp_path)
    full = fit(_model(), xt, yt, xv, yv, 4, MEAN, STD, CFG)

    _interrupt_at_epoch_3(CFG, store, (xt, yt, xv, yv))
    # the interrupt came after epoch 3's metrics but before its checkpoint: resume at epoch 3
    resumed = fit(_model(), xt, yt, xv, yv, 4, MEAN, STD, CFG, checkpoints=store, data_key="d")
    assert resumed.resumed_from == 3
    assert resumed.history["val_macro_f1"].round(6).tolist() == full.history["val_macro_f1"].round(6).tolist()
    # other data or settings do not pick up this checkpoint
    other = fit(_model(), xt, yt, xv, yv, 4, MEAN, STD, CFG, checkpoints=store, data_key="other")
    assert other.resumed_from is None


def test_nan_loss_fails_with_advice():
    xt, yt = _data(64, 0)
    xt = xt.clone()
    cfg = FitConfig(learning_rate=1e12, batch_size=16, epochs=3, augmentation="none", optimizer="sgd")
    with pytest.raises(
        TrainingDivergedError, match=r"lower training\.learning_rate \(now 1000000000000\.0\)"
    ):
        fit(_model(), xt, yt, xt, yt, 4, MEAN, STD, cfg)


def test_bad_settings_name_key_and_allowed_values():
    with pytest.raises(
        ValueError, match=r"training\.optimizer: got 'rmsprop'; allowed: one of adam, adamw, sgd"
    ):
        FitConfig(optimizer="rmsprop")
    with pytest.raises(ValueError, match=r"training\.imbalance"):
        FitConfig(imbalance="oversample")


def test_cosine_schedule_decays_and_resumes_identically(tmp_path):
    xt, yt = _data(64, 0)
    cfg = FitConfig(learning_rate=0.01, batch_size=16, epochs=4, augmentation="none", schedule="cosine")
    full = fit(_model(), xt, yt, xt, yt, 4, MEAN, STD, cfg)
    store = FileCheckpointStore(tmp_path)

    def stop(epoch, row):
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(_model(), xt, yt, xt, yt, 4, MEAN, STD, cfg, checkpoints=store, progress=stop)
    resumed = fit(_model(), xt, yt, xt, yt, 4, MEAN, STD, cfg, checkpoints=store)
    assert resumed.history["train_loss"].round(6).tolist() == full.history["train_loss"].round(6).tolist()
    with pytest.raises(ValueError, match=r"training\.schedule: got 'step'"):
        FitConfig(schedule="step")


def test_imbalance_options_run():
    xt, yt = _data(64, 0)
    weights = class_weights(torch.tensor([0, 0, 0, 1]).numpy(), 3)
    assert weights[0] < weights[1] and weights[2] == 0
    for imbalance in ("weighted_loss", "balanced_sampler"):
        cfg = FitConfig(
            learning_rate=0.01, batch_size=16, epochs=1, imbalance=imbalance, augmentation="light"
        )
        assert len(fit(_model(), xt, yt, xt, yt, 4, MEAN, STD, cfg).history) == 1


def test_a_damaged_checkpoint_is_not_resumed_training_starts_afresh(tmp_path, caplog):
    """A flipped byte in the checkpoint: no resume into different weights, a warning names the file
    and the run trains from epoch 1 exactly as a fresh one."""
    xt, yt = _data(128, 0)
    xv, yv = _data(32, 1)
    store = FileCheckpointStore(tmp_path)
    full = fit(_model(), xt, yt, xv, yv, 4, MEAN, STD, CFG)
    _interrupt_at_epoch_3(CFG, store, (xt, yt, xv, yv))
    data = bytearray(store.file.read_bytes())
    data[len(data) // 2] ^= 0x01
    store.file.write_bytes(bytes(data))
    with caplog.at_level("WARNING"):
        again = fit(_model(), xt, yt, xv, yv, 4, MEAN, STD, CFG, checkpoints=store, data_key="d")
    assert again.resumed_from is None
    assert str(store.file) in caplog.text and "checksum mismatch" in caplog.text
    assert again.history["val_macro_f1"].round(6).tolist() == full.history["val_macro_f1"].round(6).tolist()


def test_ema_weights_are_validated_kept_and_resumed(tmp_path):
    """With ema_decay the best state is the moving average (not the last step's weights), and an
    interrupted run resumes the average as well as the model."""
    xt, yt = _data(128, 0)
    xv, yv = _data(32, 1)
    cfg = FitConfig(
        learning_rate=0.01, batch_size=16, epochs=4, patience=10, augmentation="none", ema_decay=0.9
    )
    plain = fit(_model(), xt, yt, xv, yv, 4, MEAN, STD, FitConfig(**{**cfg.__dict__, "ema_decay": 0.0}))
    full = fit(_model(), xt, yt, xv, yv, 4, MEAN, STD, cfg)
    assert full.best_val_macro_f1 > 0.8
    # same trajectory of the trained weights, other weights kept: the average differs from any step's
    assert full.history["train_loss"].round(6).tolist() == plain.history["train_loss"].round(6).tolist()
    assert full.history["val_loss"].round(6).tolist() != plain.history["val_loss"].round(6).tolist()

    store = FileCheckpointStore(tmp_path)
    _interrupt_at_epoch_3(cfg, store, (xt, yt, xv, yv))
    resumed = fit(_model(), xt, yt, xv, yv, 4, MEAN, STD, cfg, checkpoints=store, data_key="d")
    assert resumed.resumed_from == 3
    assert resumed.history["val_loss"].round(6).tolist() == full.history["val_loss"].round(6).tolist()
    for key, value in full.state_dict.items():
        torch.testing.assert_close(resumed.state_dict[key], value)


def test_ema_decay_out_of_range_names_the_key():
    with pytest.raises(ValueError, match=r"training\.ema_decay"):
        FitConfig(ema_decay=1.0)


def test_a_last_batch_of_one_photo_joins_the_one_before():
    assert batch_bounds(33, 16) == [(0, 16), (16, 33)]
    assert batch_bounds(34, 16) == [(0, 16), (16, 32), (32, 34)]
    assert batch_bounds(1, 16) == [(0, 1)]
    # batch norm on a 1x1 feature map (EfficientNet at input 32) cannot train on a batch of one
    xt, yt = _data(17, 0)
    xv, yv = _data(8, 1)
    torch.manual_seed(0)
    pool = [nn.Conv2d(3, 8, 3, padding=1), nn.AdaptiveAvgPool2d(1)]
    model = nn.Sequential(*pool, nn.BatchNorm2d(8), nn.Flatten(), nn.Linear(8, 4))
    cfg = FitConfig(batch_size=16, epochs=1, augmentation="none")
    assert len(fit(model, xt, yt, xv, yv, 4, MEAN, STD, cfg).history) == 1
