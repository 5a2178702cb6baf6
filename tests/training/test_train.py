"""Training end to end on tiny data: it learns, writes its run folder, resumes, fine-tunes, refuses bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from tiny_data import FAST, make_split

from resnets import ResnetsError
from resnets.serving import predict
from resnets.training import evaluate, load_checkpoint, resolve_config, train
from resnets.training.checkpoint import LAST


def test_a_run_learns_and_leaves_a_complete_run_folder(trained_run: Path) -> None:
    names = {p.name for p in trained_run.iterdir()}
    assert {"config.yaml", "metrics.jsonl", "last.safetensors", "best.safetensors", "curves.png",
            "result.json"} <= names
    history = [json.loads(line) for line in (trained_run / "metrics.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2]
    assert history[-1]["test_acc"] >= 0.9
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    config = yaml.safe_load((trained_run / "config.yaml").read_text())
    assert config["model"] == "resnet20" and config["data_source"] == "tiny" and config["epochs"] == 2
    ckpt = load_checkpoint(trained_run)
    first_best = max(history, key=lambda h: h["val_acc"])["epoch"]
    assert ckpt.classes == ["c0", "c1", "c2", "c3"] and ckpt.metrics["epoch"] == first_best
    assert load_checkpoint(trained_run / LAST).metrics["epoch"] == 2
    assert ckpt.preprocessing is not None and ckpt.preprocessing.size == (16, 16)


def test_evaluate_gives_metrics_and_a_confusion_matrix(trained_run: Path, tmp_path: Path) -> None:
    result = evaluate(trained_run, out=tmp_path)
    m = result.metrics
    assert m.count == 128 and m.top1 >= 0.9 and m.top5 == 1.0
    assert len(m.per_class) == 4 and sum(map(sum, m.confusion)) == 128
    assert (tmp_path / "confusion-test.png").stat().st_size > 1000
    assert json.loads((tmp_path / "eval-test.json").read_text())["top1"] == m.top1
    val = evaluate(trained_run, split="val", out=tmp_path)
    assert val.metrics.count == 128


def test_predict_reads_image_files_with_the_checkpoints_preprocessing(trained_run: Path, tmp_path: Path) -> None:
    from PIL import Image


    split = make_split(8, 99)
    for i, (img, label) in enumerate(zip(split.images, split.labels, strict=True)):
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(tmp_path / f"{i}_{int(label)}.png")
    results = predict(trained_run, [tmp_path], top_k=2)
    assert len(results) == 8 and all(len(r.top) == 2 for r in results)
    hits = sum(r.top[0][0] == f"c{Path(r.path).stem.split('_')[1]}" for r in results)
    assert hits >= 7
    for r in results:
        probs = [p for _, p in r.top]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6


def test_resume_after_a_kill_ends_with_the_same_weights(tmp_path: Path) -> None:
    script = tmp_path / "run.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parents[1] / 'helpers')!r})\n"
        "import tiny_data\n"
        "tiny_data.register()\n"
        "from resnets.training import train\n"
        "out, resume = sys.argv[1], sys.argv[2] == 'resume'\n"
        "train('resnet20', 'tiny:1024', out=out, resume=resume, epochs=3, batch_size=64, log_every=4,\n"
        "      progress=False, plots=False, workers=0, checkpoint_every=0)\n"
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    straight = tmp_path / "straight"
    subprocess.run([sys.executable, str(script), str(straight), "fresh"], check=True, env=env, capture_output=True)

    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(script), str(killed), "fresh"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    metrics = killed / "metrics.jsonl"
    while time.time() < deadline and not (metrics.exists() and metrics.read_text().count("\n") >= 1):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = metrics.read_text().count("\n")
    assert 1 <= done < 3, "the kill should land after epoch 1 and before the end"
    subprocess.run([sys.executable, str(script), str(killed), "resume"], check=True, env=env, capture_output=True)

    a = load_checkpoint(straight / LAST).weights
    b = load_checkpoint(killed / LAST).weights
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    lines = [json.loads(line)["epoch"] for line in metrics.read_text().splitlines()]
    assert lines == [1, 2, 3]


@pytest.mark.parametrize(("every", "writes"), [(0, [1, 2, 3]), (3600, [3])])
def test_the_last_checkpoint_is_rewritten_at_most_every_checkpoint_every_seconds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, every: float, writes: list[int]) -> None:
    from resnets.training import loop

    saved: list[int] = []
    real = loop.save_checkpoint

    def spy(path: Path, *args: object, **kwargs: object) -> Path:
        if Path(path).name == LAST:
            saved.append(kwargs["train_state"]["epoch"])  # type: ignore[index]
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(loop, "save_checkpoint", spy)
    train("resnet20", "tiny", out=tmp_path / "run", **{**FAST, "epochs": 3, "checkpoint_every": every})
    assert saved == writes
    assert load_checkpoint(tmp_path / "run" / LAST, train_state=True).train_state["epoch"] == 3


def test_fine_tuning_puts_a_new_head_on_pretrained_weights(trained_run: Path, tmp_path: Path) -> None:
    result = train("resnet20", "tiny3", out=tmp_path / "ft", weights=str(trained_run / LAST), freeze=2,
                   backbone_lr_scale=0.1, **{**FAST, "epochs": 1})
    assert any("new 3-class head" in note for note in result.notes)
    base = load_checkpoint(trained_run / LAST).weights
    tuned = load_checkpoint(tmp_path / "ft" / LAST).weights
    assert tuned["fc.weight"].shape == (3, 64)
    assert torch.equal(base["conv1.weight"], tuned["conv1.weight"])  # the stem was frozen
    assert torch.equal(base["layer1.0.conv1.weight"], tuned["layer1.0.conv1.weight"])  # so was stage 1
    assert not torch.equal(base["layer3.0.conv1.weight"], tuned["layer3.0.conv1.weight"])


def test_any_spec_trains_and_its_checkpoint_rebuilds_it(tmp_path: Path) -> None:
    from resnets.models.zoo import cifar

    spec = cifar("resnet14_narrow", 14, widths=(4, 8, 16), shortcut="B")
    result = train(spec, "tiny", out=tmp_path / "custom", device="cpu", **{**FAST, "epochs": 1})
    assert result.config.model == "resnet14_narrow" and result.config.model_spec["stages"][0]["width"] == 4
    assert any(note.startswith("channels_last is off for this run") for note in result.notes)
    assert yaml.safe_load((tmp_path / "custom" / "config.yaml").read_text())["resolved_channels_last"] is False
    ckpt = load_checkpoint(tmp_path / "custom" / LAST)
    assert ckpt.spec.stages == spec.stages and ckpt.spec.shortcut == "B" and ckpt.spec.head.classes == 4
    config = yaml.safe_load((tmp_path / "custom" / "config.yaml").read_text())
    resumed = train(config["model"], "tiny", out=tmp_path / "custom", resume=True, model_spec=config["model_spec"],
                    **{**FAST, "epochs": 2})
    assert [h["epoch"] for h in resumed.history] == [1, 2]


def test_recipe_file_and_flags_resolve_in_order(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("lr: 0.05\nbatch_size: 16\n")
    c = resolve_config("course", path, batch_size=8)
    assert (c.optimizer, c.lr, c.batch_size, c.precision, c.normalize) == ("adam", 0.05, 8, "fp32", "x/255")
    assert resolve_config("paper-cifar").iterations == 64000


def test_set_values_take_their_key_type_so_yaml_exponents_work() -> None:
    c = resolve_config("signs", lr="1e-3", weight_decay=1, epochs="3", milestones=["0.5", 0.75])
    assert (c.lr, c.weight_decay, c.epochs, c.milestones) == (0.001, 1.0, 3, [0.5, 0.75])
    assert type(c.lr) is float and type(c.weight_decay) is float and type(c.epochs) is int
    assert resolve_config("signs", drop_path_rate=None).drop_path_rate is None
    with pytest.raises(ResnetsError, match="flip must be true or false, not 'yes'"):
        resolve_config("signs", flip="yes")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(recipe="fastest"), "unknown recipe 'fastest' \\(did you mean fast\\?\\)"),
        (dict(learning_rate=0.1), "unknown key 'learning_rate'"),
        (dict(model="resnet5"), "unknown model 'resnet5'"),
        (dict(data="nowhere:/x"), "unknown data source 'nowhere'"),
        (dict(epochs=0), "epochs must be at least 1"),
        (dict(sync_bn=True), "SyncBatchNorm works only on GPUs"),
        (dict(model="resnet50_course"), "resnet50_course cannot take the 3x16x16 images of tiny"),
        (dict(crop=40), "crop 40 is larger than the 16x16 images of tiny padded by 4"),
        (dict(crop=-1), "pad and crop are pixel counts"),
        (dict(mixup=-0.2), "mixup and cutmix are Beta alphas"),
        (dict(contrast=1.5), "brightness, contrast, saturation and scale are fractions in \\[0, 1\\)"),
    ],
)
def test_bad_training_input_raises_one_sentence(kwargs: dict, message: str, tmp_path: Path) -> None:
    options = {**FAST, "out": tmp_path / "r", "data": "tiny", **kwargs}
    with pytest.raises(ResnetsError, match=message):
        train(**options)


def test_an_existing_run_is_not_overwritten_and_resume_needs_a_run(trained_run: Path, tmp_path: Path) -> None:
    with pytest.raises(ResnetsError, match="already holds a run; pass --resume"):
        train("resnet20", "tiny", out=trained_run, **FAST)
    with pytest.raises(ResnetsError, match="no run to resume"):
        train("resnet20", "tiny", out=tmp_path / "none", resume=True, **FAST)


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "nan"
    calls = []

    def poison(record: dict) -> None:
        calls.append(record["epoch"])
        if record["epoch"] == 1:
            with torch.no_grad():
                for p in poisoned_model_params():
                    p.fill_(float("nan"))

    import resnets.training.loop as loop

    captured = {}
    original = loop.Trainer._optimizer

    def spy(self, model, **kw):
        captured["model"] = model
        return original(self, model, **kw)

    def poisoned_model_params():
        return captured["model"].parameters()

    loop.Trainer._optimizer = spy
    try:
        with pytest.raises(ResnetsError, match=r"loss became NaN at step \d+ \(epoch 2\).*last good checkpoint"):
            train("resnet20", "tiny", out=out, on_epoch_end=poison, **{**FAST, "epochs": 3})
    finally:
        loop.Trainer._optimizer = original
    ckpt = load_checkpoint(out / LAST)
    assert ckpt.metrics["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in ckpt.weights.values() if v.is_floating_point())


def test_fine_tuning_starts_from_a_foreign_state_dict(trained_run: Path, tmp_path: Path) -> None:
    """`--weights` reads any format resnets.interop knows, here a plain torch state dict (.pth)."""
    import resnets  # noqa: F401 - registers the foreign-format readers

    weights = load_checkpoint(trained_run / LAST).weights
    pth = tmp_path / "resnet20.pth"
    torch.save({f"module.{k}": v for k, v in weights.items()}, pth)
    result = train("resnet20", "tiny3", out=tmp_path / "ft", weights=str(pth), **{**FAST, "epochs": 1})
    assert any("new 3-class head" in note for note in result.notes)
    tuned = load_checkpoint(tmp_path / "ft" / LAST).weights
    assert tuned["fc.weight"].shape == (3, 64)


def test_training_on_smaller_crops_evaluates_on_whole_images(tmp_path: Path) -> None:
    result = train("resnet20", "tiny", out=tmp_path / "crops", crop=12, pad=0, **FAST)
    assert result.test["top1"] >= 0.9 and result.config.crop == 12


def test_wide_small_maps_train_through_matrix_multiplies_deterministically(tmp_path: Path, monkeypatch) -> None:
    import resnets.blocks.layers as layers
    from resnets.models.zoo import cifar

    calls = []
    real = layers.conv2d_gemm
    monkeypatch.setattr(layers, "conv2d_gemm", lambda *a: calls.append(a[1].shape) or real(*a))
    spec = cifar("resnet8_wide", 8, widths=(16, 16, 256))  # its last stage: 256 channels over 4x4 maps
    fast = {**FAST, "epochs": 1, "plots": False}
    runs = [train(spec, "tiny", out=tmp_path / name, device="cpu", seed=3, **fast) for name in ("a", "b")]
    assert calls and set(calls) == {(256, 256, 3, 3)}
    a, b = (load_checkpoint(tmp_path / name / LAST).weights for name in ("a", "b"))
    assert all(torch.equal(a[k], b[k]) for k in a), "a seeded CPU run repeats bit for bit"
    assert runs[0].history[-1]["train_loss"] == runs[1].history[-1]["train_loss"]

    seen = len(calls)
    train(spec, "tiny", out=tmp_path / "off", device="cpu", seed=3, gemm_convs=False, **fast)
    assert len(calls) == seen, "gemm_convs=false keeps every convolution on oneDNN"
    off = load_checkpoint(tmp_path / "off" / LAST).weights
    assert all(torch.allclose(a[k].float(), off[k].float(), rtol=0.05, atol=0.05) for k in a)


def test_mixup_and_cutmix_train_and_resume_to_the_same_weights(tmp_path: Path) -> None:
    options = dict(FAST, epochs=2, mixup=0.2, cutmix=1.0, plots=False)
    straight = train("resnet20", "tiny", out=tmp_path / "straight", **options)
    assert straight.history[-1]["train_loss"] < straight.history[0]["train_loss"]

    class StopRunError(Exception):
        pass

    def stop_after_first(record: dict) -> None:
        if record["epoch"] == 1:
            raise StopRunError

    with pytest.raises(StopRunError):
        train("resnet20", "tiny", out=tmp_path / "stopped", on_epoch_end=stop_after_first, **options)
    train("resnet20", "tiny", out=tmp_path / "stopped", resume=True, **options)
    a, b = (load_checkpoint(tmp_path / name / LAST).weights for name in ("straight", "stopped"))
    assert all(torch.equal(a[k], b[k]) for k in a), "the mixing draws replay after a resume"
    plain = load_checkpoint(train("resnet20", "tiny", out=tmp_path / "plain", **dict(FAST, epochs=2, plots=False)).out
                            / LAST).weights
    assert not all(torch.equal(a[k], plain[k]) for k in a), "mixing changed the run"
