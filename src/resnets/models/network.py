"""The interface every model shares, whatever its family (timm's, with Keras's head words).

- ``forward_features(x)``: the last feature map; ``forward_head(x, pre_logits=False)``: pool, dropout,
  classifier, output activation; ``forward(x)``: both (or, in backbone mode, the list of feature maps).
- ``feature_info``: channels, reduction and module name of every feature stage (index 0 is the stem).
- ``reset_classifier(num_classes, pool=None)``: a new head, e.g. to fine-tune on other classes.
- Backbone mode (``features_only=True``, ``out_indices``): ``forward`` returns the chosen feature maps.

A subclass builds its modules from a spec and lists, in ``feature_stages()``, which child modules make up
each feature stage; this class runs them, probes the shapes on the ``meta`` device (no compute) and adds
the head, named ``fc`` like torchvision's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

import torch
from torch import nn

from resnets.models.spec import HeadSpec, NetSpec


@dataclass(frozen=True)
class FeatureInfo:
    """One feature stage: its output channels, its stride relative to the input, its module name."""

    num_chs: int
    reduction: int
    module: str


class GlobalPool(nn.Module):
    """The head's pooling: ``avg``/``max`` global pooling, the course's ``avg2x2`` (2x2 average pool),
    or ``none``; followed by a flatten when a classifier follows."""

    def __init__(self, kind: str, flatten: bool) -> None:
        super().__init__()
        self.kind = kind
        self.flatten = flatten
        self.pool: nn.Module = {
            "avg": nn.AdaptiveAvgPool2d(1),
            "max": nn.AdaptiveMaxPool2d(1),
            "avg2x2": nn.AvgPool2d(2),
            "none": nn.Identity(),
        }[kind]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(x)
        return torch.flatten(x, 1) if self.flatten else x

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, flatten={self.flatten}"


class Network(nn.Module):
    """Base of every model: the shared interface (module docstring) over ``feature_stages()``."""

    spec: NetSpec

    def __init__(self, spec: NetSpec) -> None:
        super().__init__()
        self.spec = spec
        self.features_only = False
        self.out_indices: tuple[int, ...] = ()
        self.feature_info: list[FeatureInfo] = []

    # -- what a subclass provides --------------------------------------------------------------------

    def feature_stages(self) -> list[list[str]]:
        """Names of the child modules of each feature stage, in order (stage 0 is the stem)."""
        raise NotImplementedError

    # -- assembly ------------------------------------------------------------------------------------

    def _finish(self) -> None:
        """Probe the feature shapes on the meta device, then add the head. Called by subclasses last."""
        self._stage_modules = [[n for n in names if hasattr(self, n)] for names in self.feature_stages()]
        shapes = self._probe_shapes()
        h = self.spec.input_size[1]
        self.feature_info = [
            FeatureInfo(
                num_chs=shape[1],
                reduction=max(1, round(h / shape[2])),
                module=names[-1],
            )
            for names, shape in zip(self._stage_modules, shapes, strict=True)
        ]
        self._last_shape = shapes[-1]
        self._build_head(self.spec.head)

    def _probe_shapes(self) -> list[torch.Size]:
        """Output shape of every feature stage for the spec's input size, computed without any arithmetic
        (meta tensors), so an input too small for the net fails here with a clear message."""
        meta = {k: torch.empty_like(v, device="meta") for k, v in self.state_dict(keep_vars=True).items()}
        x = torch.empty((1, *self.spec.input_size), device="meta")
        saved = (self.training, self.features_only, self.out_indices)
        self.features_only, self.out_indices = True, tuple(range(len(self._stage_modules)))
        try:
            self.eval()
            with torch.no_grad(), norms_skipped(self):
                shapes = [y.shape for y in torch.func.functional_call(self, meta, (x,), strict=False)]
        except RuntimeError as exc:
            raise ValueError(
                f"{self.spec.name} cannot take a {'x'.join(map(str, self.spec.input_size))} input "
                f"({str(exc).splitlines()[0]}); use a larger input_size."
            ) from None
        finally:
            self.train(saved[0])
            self.features_only, self.out_indices = saved[1], saved[2]
        if any(0 in s for s in shapes):
            raise ValueError(
                f"{self.spec.name} reduces a {'x'.join(map(str, self.spec.input_size))} input to nothing; "
                "use a larger input_size."
            )
        return shapes

    def _build_head(self, head: HeadSpec) -> None:
        flatten = head.classes > 0 or head.pool != "none"
        self.global_pool = GlobalPool(head.pool, flatten)
        c, h, w = self._last_shape[1:]
        if head.pool in ("avg", "max"):
            in_features = c
        elif head.pool == "avg2x2":
            in_features = c * (h // 2) * (w // 2)
            if h < 2 or w < 2:
                raise ValueError(f"{self.spec.name}'s 2x2 average pool needs a feature map of at least 2x2.")
        else:
            in_features = c * h * w
        self.num_features = c
        self.head_drop = nn.Dropout(head.dropout) if head.dropout else nn.Identity()
        self.fc = nn.Linear(in_features, head.classes) if head.classes else nn.Identity()
        self.head_act: nn.Module = {
            "none": nn.Identity(),
            "softmax": nn.Softmax(dim=1),
            "tanh": nn.Tanh(),
        }[head.activation]

    # -- the interface -------------------------------------------------------------------------------

    def _stages(self, x: torch.Tensor, upto: int | None = None):
        for i, names in enumerate(self._stage_modules):
            for name in names:
                x = getattr(self, name)(x)
            yield x
            if upto is not None and i >= upto:
                return

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        for names in self._stage_modules:
            for name in names:
                x = getattr(self, name)(x)
        return x

    def forward_intermediates(self, x: torch.Tensor, indices: Sequence[int] | None = None) -> list[torch.Tensor]:
        """The feature maps of the stages in ``indices`` (all by default), stopping after the last one."""
        wanted = tuple(range(len(self._stage_modules))) if indices is None else tuple(indices)
        last = max(wanted)
        feats = list(self._stages(x, upto=last))
        return [feats[i] for i in wanted]

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.head_drop(self.global_pool(x))
        return x if pre_logits else self.head_act(self.fc(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        if self.features_only:
            return self.forward_intermediates(x, self.out_indices)
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        return self.fc

    def reset_classifier(self, num_classes: int, pool: str | None = None) -> None:
        """Replace the head with a freshly initialised one for ``num_classes`` (0: no classifier)."""
        head = replace(self.spec.head, classes=num_classes, pool=pool or self.spec.head.pool)
        self.spec = replace(self.spec, head=head)
        device = next(self.parameters()).device
        self._build_head(head)
        self.fc.to(device)

    def as_backbone(self, out_indices: Sequence[int] | None = None) -> Network:
        """Switch to backbone mode: drop the head; ``forward`` returns the maps of ``out_indices``."""
        n = len(self._stage_modules)
        indices = tuple(range(n)) if out_indices is None else tuple(out_indices)
        bad = [i for i in indices if not -n <= i < n]
        if bad or not indices:
            raise ValueError(f"out_indices must be stage numbers in 0..{n - 1} (0 is the stem), not {indices}.")
        self.out_indices = tuple(i % n for i in indices)
        self.features_only = True
        self.reset_classifier(0, "none")
        return self


def _same(x: torch.Tensor) -> torch.Tensor:
    return x


@contextmanager
def norms_skipped(model: nn.Module) -> Iterator[None]:
    """Let every BatchNorm/GroupNorm pass its input through unchanged for the duration.

    For shape and MAC probes on the ``meta`` device only: norms never change a shape, the flop counter
    counts no MACs in them, and on ``meta`` they are most of the cost (a Python decomposition per call).
    """
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d | nn.GroupNorm)]
    for m in norms:
        m.forward = _same  # type: ignore[method-assign]
    try:
        yield
    finally:
        for m in norms:
            del m.forward


def init_weights(model: nn.Module, scheme: str) -> None:
    """Initialise convolutions, norms and linear layers by a named scheme (``resnets.models.spec.INITS``).

    Norms always start at weight 1, bias 0. ``torch`` leaves PyTorch's defaults. Models on the ``meta``
    device (built only to count or trace) hold no values and are left alone.
    """
    if scheme == "torch" or any(p.is_meta for p in model.parameters()):
        return
    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            if scheme == "kaiming":
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
                continue  # torchvision keeps nn.Linear's default initialisation
            if scheme == "glorot":
                nn.init.xavier_uniform_(m.weight)
            elif scheme == "trunc_normal":
                nn.init.trunc_normal_(m.weight, std=0.01, a=-2, b=2)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.GroupNorm) and m.weight is not None:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def count_parameters(model: nn.Module, *, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters; works on ``meta``-device models."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
