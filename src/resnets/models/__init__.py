"""Networks as data: specs (:mod:`.spec`), one builder (:mod:`.builder`), the zoo (:mod:`.zoo`)."""

from resnets.models.builder import build_model
from resnets.models.googlenet import GoogLeNet, GoogLeNetOutputs
from resnets.models.network import FeatureInfo, Network, count_parameters, init_weights
from resnets.models.resnet import ResNet
from resnets.models.spec import (
    SCHEMA_VERSION,
    GoogLeNetSpec,
    HeadSpec,
    InceptionSpec,
    NetSpec,
    ResNetSpec,
    StageSpec,
    StemSpec,
    override_spec,
    spec_from_dict,
    spec_from_json,
    spec_from_yaml,
    spec_to_dict,
    spec_to_json,
    spec_to_yaml,
)
from resnets.models.zoo import ModelInfo, create_model, get_spec, list_models, model_info, register

__all__ = [
    "SCHEMA_VERSION",
    "FeatureInfo",
    "GoogLeNet",
    "GoogLeNetOutputs",
    "GoogLeNetSpec",
    "HeadSpec",
    "InceptionSpec",
    "ModelInfo",
    "NetSpec",
    "Network",
    "ResNet",
    "ResNetSpec",
    "StageSpec",
    "StemSpec",
    "build_model",
    "count_parameters",
    "create_model",
    "get_spec",
    "init_weights",
    "list_models",
    "model_info",
    "override_spec",
    "register",
    "spec_from_dict",
    "spec_from_json",
    "spec_from_yaml",
    "spec_to_dict",
    "spec_to_json",
    "spec_to_yaml",
]
