"""``train()``: one run from a resolved config to a run folder with checkpoints, metrics and plots.

The run folder (``--out``; default ``runs/<model>-<data>-<time>``) holds ``config.yaml`` (the resolved
config), ``metrics.jsonl`` (one line per epoch), ``last.safetensors`` (with the training state, for
``--resume``; rewritten at most every ``checkpoint_every`` seconds, and after the final epoch: the course
ResNet50 with its optimizer state is 283 MB), ``best.safetensors`` (best validation accuracy; never chosen
on the test set), ``curves.png`` and ``result.json``.

Resuming restarts from the epoch of the last checkpoint with the same weights, optimizer state, step, RNG
states and data order, so a seeded CPU run ends with the same weights as an uninterrupted one.
Losses reach the host only every ``log_every`` steps; a NaN is caught there and stops the run with the
last good checkpoint kept.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import yaml
from torch import nn

from resnets.blocks.layers import set_gemm_convs
from resnets.data import Augment, Batches, DataBundle, Mix, Preprocessing, load_data
from resnets.errors import ResnetsError
from resnets.models import NetSpec, Network, create_model, get_spec, spec_from_dict, spec_to_dict
from resnets.models.weights import load_weights
from resnets.training import schedule as schedules
from resnets.training.batchnorm import recalibrate_bn
from resnets.training.checkpoint import BEST, LAST, load_checkpoint, read_weights, save_checkpoint
from resnets.training.config import TrainConfig, resolve_config
from resnets.training.ema import WeightAverage
from resnets.training.flat_views import FlatViews
from resnets.training.metrics import evaluate_batches, logits_of
from resnets.training.plots import plot_curves
from resnets.training.progress import Reporter
from resnets.training.runtime import (
    Runtime,
    channels_last_hazard,
    rng_state,
    seed_everything,
    set_rng_state,
    setup_runtime,
)
from resnets.training.steps import EagerStep, GraphedStep


@dataclass
class TrainResult:
    """What a run produced: its folder, config, per-epoch history and final test metrics."""

    out: Path
    config: TrainConfig
    history: list[dict[str, Any]]
    test: dict[str, Any] | None
    train_seconds: float
    checkpoint: Path
    best_checkpoint: Path | None = None
    notes: list[str] = field(default_factory=list)
    model: Network | None = field(default=None, repr=False)


def train(
    model: str | NetSpec | None = None,
    data: str | None = None,
    *,
    recipe: str | None = None,
    config: str | Path | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
    **overrides: Any,
) -> TrainResult:
    """Train a zoo model on a data set (``resnets train``).

    Args:
        model: a zoo name (default: the recipe's, ``resnet20`` for the embedded data), or any spec: a
            custom stack trains like a zoo model (its spec is the config's ``model_spec``).
        data: a data spec (``shapes`` by default, ``signs:DIR``, ``cifar10:DIR``, ``folder:DIR``).
        recipe: ``default``, ``course``, ``signs``, ``paper-cifar`` or ``fast``.
        config: a YAML file of config keys (between the recipe and the overrides).
        out: the run folder.
        resume: continue the run in ``out`` from its last checkpoint.
        on_epoch_end: called on the main process with each epoch's metrics (after its checkpoint).
        **overrides: any :class:`TrainConfig` key (``epochs=2``, ``lr=0.1``, ``precision="fp32"`` ...).
    """
    if model is not None and not isinstance(model, str):
        overrides["model_spec"] = spec_to_dict(model)
        model = model.name
    cfg = resolve_config(recipe, config, model=model, data=data, out=str(out) if out else None, **overrides)
    return Trainer(cfg, resume=resume, on_epoch_end=on_epoch_end).run()


class Trainer:
    """The state of one run; ``run()`` does the work."""

    def __init__(self, cfg: TrainConfig, *, resume: bool = False,
                 on_epoch_end: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.cfg = cfg
        self.resume = resume
        self.on_epoch_end = on_epoch_end
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.rt: Runtime = setup_runtime(cfg.device, cfg.precision)
        if cfg.sync_bn and self.rt.device.type != "cuda":
            raise ResnetsError("SyncBatchNorm works only on GPUs; drop --sync-bn on CPU (plain BatchNorm per process).")
        seed_everything(cfg.seed + self.rt.rank, deterministic=cfg.deterministic)
        self.report = Reporter(enabled=cfg.progress, active=self.rt.is_main)
        self.history: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.channels_last = cfg.channels_last

    # -- setup ---------------------------------------------------------------------------------------

    def _load_data(self) -> DataBundle:
        c = self.cfg
        options: dict[str, Any] = {"seed": c.seed}
        for key in ("val_fraction", "limit"):
            if getattr(c, key) is not None:
                options[key] = getattr(c, key)
        if c.paper_split:
            options["paper_split"] = True
        if c.train_on != "train":
            options["train_on"] = c.train_on
        return load_data(c.data, **options)

    def _preprocessing(self, data: DataBundle) -> Preprocessing:
        if self.cfg.normalize == "x/255":
            c, h, w = data.input_size
            return Preprocessing((h, w), channels=c, scale=1 / 255, mean=(0.0,) * c, std=(1.0,) * c)
        return data.preprocessing

    def _build_model(self, data: DataBundle) -> Network:
        c = self.cfg
        spec = spec_from_dict(c.model_spec) if c.model_spec else get_spec(c.model)
        overrides: dict[str, Any] = {"num_classes": data.num_classes, "input_size": tuple(data.input_size)}
        if spec.kind == "resnet":
            for key in ("zero_init_last", "drop_path_rate", "bn_momentum"):
                if getattr(c, key) is not None:
                    overrides[key] = getattr(c, key)
        try:
            model = create_model(spec, **overrides)
        except ResnetsError:
            raise
        except ValueError as exc:
            if "input" not in str(exc) and "2x2" not in str(exc):
                raise
            size = "x".join(map(str, data.input_size))
            raise ResnetsError(
                f"{c.model} cannot take the {size} images of {data.source} ({exc}); resize them larger "
                "(e.g. image_size for folders) or pick a model made for small images, such as resnet20."
            ) from None
        if c.weights:
            self._load_pretrained(model, c.weights)
        return model

    def _load_pretrained(self, model: Network, path: str) -> None:
        """Start from weights; a head of another size is replaced by a fresh one for this data."""
        state, _ = read_weights(path, model.spec)
        head = {k for k in state if k.startswith(("fc.", "aux1.fc2", "aux2.fc2"))}
        own = model.state_dict()
        if any(k in own and tuple(own[k].shape) != tuple(state[k].shape) for k in head):
            state = {k: v for k, v in state.items() if k not in head}
            self.notes.append(f"new {model.spec.head.classes}-class head on the weights of {path}")
            missing = load_weights(model, state, strict=False, source=f"the weights in {path}")
            if any(not k.startswith(("fc.", "aux1.fc2", "aux2.fc2")) for k in missing):
                raise ResnetsError(f"the weights in {path} do not fit {model.spec.name} beyond its head.")
        else:
            load_weights(model, state, source=f"the weights in {path}")

    def _freeze(self, model: Network) -> None:
        c = self.cfg
        if c.freeze:
            stages = model._stage_modules
            if c.freeze > len(stages) - 1:
                raise ResnetsError(f"--freeze {c.freeze} would freeze every stage of {model.spec.name}; "
                                   f"use at most {len(stages) - 1}.")
            for names in stages[: c.freeze + 1]:
                for name in names:
                    for p in getattr(model, name).parameters():
                        p.requires_grad_(False)
        if c.freeze_bn:
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    for p in m.parameters():
                        p.requires_grad_(False)

    def _set_bn_mode(self, model: nn.Module) -> None:
        """Frozen BatchNorms (``freeze_bn``, or inside frozen stages) keep their statistics in training."""
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d) and (self.cfg.freeze_bn or not any(
                    p.requires_grad for p in m.parameters())):
                m.eval()

    def _graphs(self) -> bool:
        """Whether steps run as one captured CUDA graph (see :mod:`resnets.training.steps`)."""
        c, rt = self.cfg, self.rt
        blockers = [
            (rt.device.type != "cuda", "a CUDA device"),
            (rt.distributed, "a single process (not DistributedDataParallel)"),
            (rt.precision == "fp16", "bf16 or fp32 (fp16's gradient scaler syncs with the host)"),
            (bool(c.grad_clip), "no gradient clipping"),
            (c.compile == "on", "no torch.compile"),
        ]
        missing = [need for blocked, need in blockers if blocked]
        if c.cuda_graphs == "on" and missing:
            raise ResnetsError(f"--set cuda_graphs=on needs {missing[0]}; use cuda_graphs=auto.")
        return c.cuda_graphs != "off" and not missing

    def _optimizer(self, model: Network, *, graphs: bool = False) -> torch.optim.Optimizer:
        c = self.cfg
        head_names = {"fc", "aux1", "aux2"}
        groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            is_head = name.split(".")[0] in head_names
            no_decay = c.no_decay_bn_bias and p.ndim <= 1
            groups.setdefault((is_head, no_decay), []).append(p)
        if not groups:
            raise ResnetsError("every parameter is frozen; lower --freeze.")
        backbone_scale = c.backbone_lr_scale
        params = [
            {"params": ps, "lr_scale": 1.0 if head else backbone_scale,
             "weight_decay": 0.0 if no_decay else c.weight_decay}
            for (head, no_decay), ps in groups.items()
        ]
        fused = {"fused": True} if self.rt.device.type in ("cpu", "cuda") else {}
        cls = torch.optim.Adam if c.optimizer == "adam" else torch.optim.AdamW
        if graphs and c.optimizer != "sgd":
            for group in params:
                group["lr"] = torch.tensor(c.lr, device=self.rt.device)
            return cls(params, lr=c.lr, capturable=True, foreach=True)
        views = None
        if c.flat_views and self.rt.device.type == "cpu" and self.rt.precision != "fp16":
            views = FlatViews(params)
            params = views.groups
        if c.optimizer == "sgd":
            optimizer: torch.optim.Optimizer = torch.optim.SGD(
                params, lr=c.lr, momentum=c.momentum, nesterov=c.nesterov and c.momentum > 0, **fused)
        else:
            optimizer = cls(params, lr=c.lr, **fused)
        if views is not None:
            views.attach(optimizer)
        return optimizer

    def _schedule(self, total: int, depth: int) -> schedules.Schedule:
        c = self.cfg
        if c.schedule == "onecycle":
            f = schedules.onecycle(total, c.warmup)
        elif c.schedule == "cosine":
            f = schedules.cosine(total, c.warmup)
        elif c.schedule == "multistep":
            f = schedules.multistep(total, c.milestones, c.gamma)
        else:
            f = schedules.constant()
        if c.warmup_lr and c.warmup_iterations and depth >= c.warmup_min_depth:
            f = schedules.with_warmup_lr(f, c.lr, c.warmup_lr, c.warmup_iterations)
        return f

    def _out_dir(self, data: DataBundle) -> Path:
        if self.cfg.out:
            return Path(self.cfg.out)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        return Path("runs") / f"{self.cfg.model}-{data.name}-{stamp}"

    # -- the run -------------------------------------------------------------------------------------

    def run(self) -> TrainResult:
        c, rt = self.cfg, self.rt
        data = self._load_data()
        out = self._out_dir(data)
        if not self.resume and (out / LAST).exists():
            raise ResnetsError(f"{out} already holds a run; pass --resume to continue it, or choose another --out.")
        if self.resume and not (out / LAST).exists():
            raise ResnetsError(f"there is no run to resume in {out} (no {LAST}); drop --resume to start one.")
        pre = self._preprocessing(data)
        model = self._build_model(data)
        self._freeze(model)
        if c.sync_bn and rt.distributed:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # type: ignore[assignment]
        hazard = channels_last_hazard(model, rt.device) if c.channels_last else None
        if hazard:
            self.notes.append(hazard)
        self.channels_last = c.channels_last and hazard is None
        memory = torch.channels_last if self.channels_last else torch.contiguous_format
        model = model.to(rt.device, memory_format=memory)
        set_gemm_convs(model, c.gemm_convs)
        use_graphs = self._graphs()
        optimizer = self._optimizer(model, graphs=use_graphs)
        ema = WeightAverage(model, c.ema) if c.ema else None
        eval_model: Network = ema.module if ema is not None else model  # type: ignore[assignment]

        on_device = c.data_on_device
        if c.crop > min(data.input_size[1:]) + 2 * c.pad:
            size = "x".join(map(str, data.input_size[1:]))
            raise ResnetsError(f"crop {c.crop} is larger than the {size} images of {data.source} padded by {c.pad}; "
                               "lower --set crop (0: the images' own size).")
        train_batches = Batches(
            data.train, batch_size=c.batch_size, preprocessing=pre, device=rt.device if on_device else "cpu",
            shuffle=True, drop_last=True,
            augment=Augment(**{f.name: getattr(c, f.name) for f in fields(Augment)}),
            seed=c.seed, rank=rt.rank, world_size=rt.world_size, workers=c.workers, channels_last=self.channels_last,
        )
        if len(train_batches) == 0:
            raise ResnetsError(f"the training split has {len(data.train)} images, fewer than one batch of "
                               f"{c.batch_size} per process; lower --batch-size.")

        def eval_batches(split: Any) -> Batches:
            return Batches(split, batch_size=c.eval_batch_size, preprocessing=pre, device=rt.device,
                           workers=c.workers, channels_last=self.channels_last)

        val_batches = eval_batches(data.val) if data.val is not None else None
        test_batches = eval_batches(data.test) if data.test is not None else None
        recal_batches = Batches(data.train, batch_size=c.batch_size, preprocessing=pre, device=rt.device,
                                shuffle=True, seed=c.seed + 7919, workers=c.workers, channels_last=self.channels_last)

        mix = Mix(mixup=c.mixup, cutmix=c.cutmix)
        steps_per_epoch = len(train_batches)
        total = c.iterations or c.epochs * steps_per_epoch
        epochs = math.ceil(total / steps_per_epoch)
        depth = getattr(model.spec, "depth", 0)
        lr_at = self._schedule(total, depth)

        start_epoch, step, best = 0, 0, -1.0
        scaler = torch.amp.GradScaler(rt.device.type, enabled=rt.precision == "fp16")
        if self.resume:
            start_epoch, step, best = self._restore(out, model, optimizer, scaler, ema)
        run_model: nn.Module = model
        if c.compile == "on" or (c.compile == "auto" and self._compile_pays(total)):
            run_model = torch.compile(model)  # type: ignore[assignment]
        if rt.distributed:
            run_model = nn.parallel.DistributedDataParallel(
                run_model, device_ids=[rt.device.index] if rt.device.type == "cuda" else None)
        train_step: EagerStep | GraphedStep | None = None if use_graphs else EagerStep(
            run_model, optimizer, self._loss, base_lr=c.lr, autocast=rt.autocast, scaler=scaler,
            grad_clip=c.grad_clip)
        if rt.is_main:
            out.mkdir(parents=True, exist_ok=True)
            (out / "config.yaml").write_text(yaml.safe_dump(self._config_record(data, rt), sort_keys=False))
            self._trim_metrics(out, start_epoch)
            self._announce(data, model, out, epochs, steps_per_epoch, total, start_epoch)

        timer_total = 0.0
        saved_at = time.monotonic()
        for epoch in range(start_epoch, epochs):
            train_batches.set_epoch(epoch)
            mix_rng = random.Random(c.seed * 1_000_003 + epoch)
            run_model.train()
            self._set_bn_mode(model)
            steps_this_epoch = min(steps_per_epoch, total - step)
            self.report.start_epoch(epoch + 1, epochs, steps_this_epoch)
            loss_sum = torch.zeros((), device=rt.device)
            correct = torch.zeros((), device=rt.device, dtype=torch.long)
            seen = 0
            window_start, window_seen, window_steps = time.perf_counter(), 0, 0
            epoch_start = time.perf_counter()
            for i, (x, y) in enumerate(train_batches):
                if step >= total:
                    break
                target = y
                if mix.active:
                    x, target = mix(x, y, data.num_classes, mix_rng)
                if train_step is None:
                    train_step = GraphedStep(run_model, optimizer, self._loss, (x, target), base_lr=c.lr,
                                             autocast=rt.autocast)
                loss, output = train_step(x, target, lr_at(step))
                if ema is not None:
                    ema.update()
                step += 1
                n = y.shape[0]
                loss_sum += loss.detach().float() * n
                correct += (logits_of(output).detach().argmax(1) == y).sum()
                seen += n
                window_seen += n
                window_steps += 1
                if step % c.log_every == 0 or i == steps_this_epoch - 1:
                    mean_loss = float(loss_sum) / seen
                    if not math.isfinite(mean_loss):
                        self._nan(out, epoch, step)
                    elapsed = time.perf_counter() - window_start
                    self.report.advance(window_steps, {"loss": mean_loss, "acc": int(correct) / seen,
                                                       "img_s": window_seen * rt.world_size / max(elapsed, 1e-9)})
                    window_start, window_seen, window_steps = time.perf_counter(), 0, 0
            self.report.end_epoch()
            epoch_seconds = time.perf_counter() - epoch_start
            timer_total += epoch_seconds
            totals = torch.stack([loss_sum.double(), correct.double(), torch.tensor(float(seen), device=rt.device,
                                                                                     dtype=torch.float64)])
            if rt.distributed:
                torch.distributed.all_reduce(totals)
            train_loss, train_acc = float(totals[0] / totals[2]), float(totals[1] / totals[2])
            if not math.isfinite(train_loss):
                self._nan(out, epoch, step)
            record: dict[str, Any] = {
                "epoch": epoch + 1, "step": step, "lr": c.lr * lr_at(max(step - 1, 0)),
                "train_loss": train_loss, "train_acc": train_acc, "train_err": 1 - train_acc,
                "seconds": epoch_seconds, "img_s": float(totals[2]) / max(epoch_seconds, 1e-9),
            }
            last_epoch = epoch == epochs - 1 or step >= total
            evaluate_now = (epoch + 1) % c.eval_every == 0 or last_epoch
            test_now = test_batches is not None and (c.test_each_epoch or last_epoch)
            if rt.is_main and evaluate_now and (val_batches is not None or test_now):
                if c.bn_recalibrate:
                    recalibrate_bn(eval_model, recal_batches, c.bn_recalibrate_batches, rt)
                if val_batches is not None:
                    val = evaluate_batches(eval_model, val_batches, data.num_classes, autocast=rt.autocast(),
                                           tta=c.tta)
                    record |= {"val_loss": val.loss, "val_acc": val.top1, "val_err": 1 - val.top1}
                if test_now:
                    test = evaluate_batches(eval_model, test_batches, data.num_classes, autocast=rt.autocast(),
                                           tta=c.tta)
                    record |= {"test_loss": test.loss, "test_acc": test.top1, "test_top5": test.top5,
                               "test_err": 1 - test.top1}
            if rt.is_main:
                self.history.append(record)
                improved = "val_acc" in record and record["val_acc"] > best
                if improved:
                    best = record["val_acc"]
                meta = dict(classes=data.classes, preprocessing=pre, config=self._config_record(data, rt),
                            spec=model.spec)
                if last_epoch or time.monotonic() - saved_at >= c.checkpoint_every:
                    state = {"epoch": epoch + 1, "step": step, "best": best, "optimizer": optimizer.state_dict(),
                             "scaler": scaler.state_dict(), "rng": rng_state()}
                    if ema is not None:
                        state |= {"model": model.state_dict(), "ema": ema.state_dict()}
                    save_checkpoint(out / LAST, eval_model, metrics=record, train_state=state, **meta)
                    saved_at = time.monotonic()
                if improved:
                    save_checkpoint(out / BEST, eval_model, metrics=record, **meta)
                with open(out / "metrics.jsonl", "a") as f:
                    f.write(json.dumps(record) + "\n")
                self.report.line(self._epoch_line(record, epochs))
                if self.on_epoch_end is not None:
                    self.on_epoch_end(record)
            if rt.distributed:
                torch.distributed.barrier()
            if step >= total:
                break

        result = self._finish(out, data, rt, timer_total)
        result.model = eval_model
        if rt.distributed:
            torch.distributed.barrier()
        return result

    # -- pieces of the loop --------------------------------------------------------------------------

    def _loss(self, output: Any, y: torch.Tensor) -> torch.Tensor:
        ls = self.cfg.label_smoothing
        if isinstance(output, tuple):  # GoogLeNet's auxiliary heads, weighted 0.3 as in the paper
            main, *aux = output
            return F.cross_entropy(main, y, label_smoothing=ls) + 0.3 * sum(
                F.cross_entropy(a, y, label_smoothing=ls) for a in aux)
        return F.cross_entropy(output, y, label_smoothing=ls)

    def _compile_pays(self, total_steps: int) -> bool:
        """``compile=auto``: only where the run is long enough to repay a compile (measured: 22-30 s
        cold on CPU) - on a GPU for runs of a few thousand steps or more."""
        return self.rt.device.type == "cuda" and total_steps >= 2000

    def _restore(self, out: Path, model: Network, optimizer: torch.optim.Optimizer,
                 scaler: torch.amp.GradScaler, ema: WeightAverage | None) -> tuple[int, int, float]:
        """The state of ``out``'s last checkpoint. With an EMA its weights are the average's and the raw
        weights travel in the training state."""
        ckpt = load_checkpoint(out / LAST, train_state=True)
        if ckpt.train_state is None:
            raise ResnetsError(f"{out / LAST} holds no training state to resume from.")
        raw = ckpt.train_state.get("model")
        if (ema is None) != (raw is None):
            raise ResnetsError(f"{out / LAST} was written with{'' if raw is not None else 'out'} an EMA of the "
                               f"weights; resume it with the same --set ema as before.")
        if ema is not None:
            load_weights(ema.module, ckpt.weights, source=f"the averaged weights in {out / LAST}")
            load_weights(model, raw, source=f"the training weights in {out / LAST}")
            ema.load_state_dict(ckpt.train_state["ema"])
        else:
            load_weights(model, ckpt.weights, source=f"the weights in {out / LAST}")
        optimizer.load_state_dict(ckpt.train_state["optimizer"])
        match_state_layout(optimizer)
        if ckpt.train_state.get("scaler"):
            scaler.load_state_dict(ckpt.train_state["scaler"])
        set_rng_state(ckpt.train_state["rng"])
        state = ckpt.train_state
        self.history = []
        metrics_file = out / "metrics.jsonl"
        if metrics_file.exists():
            lines = [json.loads(line) for line in metrics_file.read_text().splitlines() if line.strip()]
            self.history = [r for r in lines if r["epoch"] <= state["epoch"]]
        self.report.line(f"resuming {out} after epoch {state['epoch']} (step {state['step']})")
        return int(state["epoch"]), int(state["step"]), float(state["best"])

    def _trim_metrics(self, out: Path, start_epoch: int) -> None:
        """On resume, drop lines of epochs that did not finish before the interruption."""
        path = out / "metrics.jsonl"
        if path.exists():
            kept = [line for line in path.read_text().splitlines()
                    if line.strip() and json.loads(line)["epoch"] <= start_epoch]
            path.write_text("".join(line + "\n" for line in kept))

    def _nan(self, out: Path, epoch: int, step: int) -> None:
        kept = f"; the last good checkpoint is {out / LAST}" if (out / LAST).exists() else ""
        raise ResnetsError(f"the loss became NaN at step {step} (epoch {epoch + 1}){kept}. "
                           "Lower the learning rate (--lr) or use --precision fp32.")

    def _config_record(self, data: DataBundle, rt: Runtime) -> dict[str, Any]:
        return {**self.cfg.to_dict(), "data_source": data.source, "resolved_device": str(rt.device),
                "resolved_precision": rt.precision, "resolved_channels_last": self.channels_last,
                "world_size": rt.world_size}

    def _announce(self, data: DataBundle, model: Network, out: Path, epochs: int, steps: int, total: int,
                  start_epoch: int) -> None:
        c, rt = self.cfg, self.rt
        params = sum(p.numel() for p in model.parameters())
        sizes = ", ".join(f"{name} {len(s)}" for name, s in (("train", data.train), ("val", data.val),
                                                              ("test", data.test)) if s is not None)
        self.report.line(f"resnets train: {model.spec.name} ({params:,} parameters) on {data.source} "
                         f"({sizes}; {data.num_classes} classes)")
        self.report.line(f"recipe {c.recipe}: {epochs} epochs x {steps} steps ({total} steps), batch {c.batch_size}"
                         f"{f' x {rt.world_size} processes' if rt.distributed else ''}, {c.optimizer} lr {c.lr}, "
                         f"{rt.precision} on {rt.device}{', channels_last' if self.channels_last else ''} -> {out}")
        for note in self.notes:
            self.report.line(note)

    @staticmethod
    def _epoch_line(r: dict[str, Any], epochs: int) -> str:
        parts = [f"epoch {r['epoch']}/{epochs}", f"loss {r['train_loss']:.4f}", f"train acc {r['train_acc']:.4f}"]
        if "val_acc" in r:
            parts.append(f"val acc {r['val_acc']:.4f}")
        if "test_acc" in r:
            parts.append(f"test acc {r['test_acc']:.4f}")
        parts.append(f"{r['seconds']:.1f} s ({r['img_s']:.0f} img/s)")
        return "  ".join(parts)

    def _finish(self, out: Path, data: DataBundle, rt: Runtime, seconds: float) -> TrainResult:
        last = self.history[-1] if self.history else {}
        test = None
        if "test_acc" in last:
            test = {"top1": last["test_acc"], "top5": last.get("test_top5"), "loss": last["test_loss"],
                    "count": len(data.test) if data.test is not None else 0}
        best = out / BEST if (out / BEST).exists() else None
        result = TrainResult(out=out, config=self.cfg, history=self.history, test=test, train_seconds=seconds,
                             checkpoint=out / LAST, best_checkpoint=best, notes=self.notes)
        if rt.is_main:
            if self.cfg.plots and self.history:
                plot_curves(self.history, out / "curves.png", title=f"{self.cfg.model} on {data.source}")
            summary = {"model": self.cfg.model, "data": data.source, "epochs": last.get("epoch"),
                       "train_seconds": seconds, "test": test, "final": last}
            (out / "result.json").write_text(json.dumps(summary, indent=2))
            if test is not None:
                correct = round(test["top1"] * test["count"])
                views = "" if self.cfg.tta == "none" else f" ({self.cfg.tta} test-time views)"
                self.report.line(f"test accuracy {test['top1']:.4f} ({correct}/{test['count']}){views} after "
                                 f"{seconds:.0f} s of training; run folder {out}")
            else:
                self.report.line(f"done after {seconds:.0f} s of training; run folder {out}")
        return result


@torch.no_grad()
def match_state_layout(optimizer: torch.optim.Optimizer) -> None:
    """Give every per-parameter optimizer tensor (momentum, Adam moments) its parameter's memory format.

    Checkpoints store tensors contiguous; a channels-last parameter with a contiguous momentum buffer
    would be paired element by element in different orders by the fused optimizers.
    """
    for group in optimizer.param_groups:
        for p in group["params"]:
            for key, value in optimizer.state.get(p, {}).items():
                if isinstance(value, torch.Tensor) and value.shape == p.shape and value.stride() != p.stride():
                    optimizer.state[p][key] = torch.empty_like(p, dtype=value.dtype).copy_(value)
