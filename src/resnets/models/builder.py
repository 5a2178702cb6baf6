"""One builder for every spec: ``build_model(spec)`` returns the network it describes."""

from __future__ import annotations

from collections.abc import Sequence

from resnets.models.googlenet import GoogLeNet
from resnets.models.network import Network
from resnets.models.resnet import ResNet
from resnets.models.spec import GoogLeNetSpec, NetSpec, ResNetSpec

_NETWORKS: dict[type, type[Network]] = {ResNetSpec: ResNet, GoogLeNetSpec: GoogLeNet}


def build_model(
    spec: NetSpec, *, features_only: bool = False, out_indices: Sequence[int] | None = None
) -> Network:
    """Turn a spec into modules.

    Args:
        spec: a :class:`ResNetSpec` or :class:`GoogLeNetSpec`.
        features_only: backbone mode: no head; ``forward`` returns the feature maps of ``out_indices``
            (all stages by default; 0 is the stem).
    """
    try:
        cls = _NETWORKS[type(spec)]
    except KeyError:
        raise ValueError(f"cannot build a {type(spec).__name__}; expected a ResNetSpec or GoogLeNetSpec.") from None
    model = cls(spec)
    if features_only or out_indices is not None:
        model.as_backbone(out_indices)
    return model
