"""Looking at a model: a Keras-like ``summary`` table and a block ``diagram``."""

from resnets.inspect.diagram import diagram
from resnets.inspect.table import LayerRow, ModelSummary, ZooRow, parse_size, summary, zoo_table

__all__ = ["LayerRow", "ModelSummary", "ZooRow", "diagram", "parse_size", "summary", "zoo_table"]
