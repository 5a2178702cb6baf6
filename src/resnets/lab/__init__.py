"""The residual lab: experiments that show, with numbers and figures, why residual connections work.

Each study is a function here and a ``resnets lab`` sub-command, and writes to its ``out`` folder PNG
figures, ``result.json`` (every number, the settings, the scale, the command that repeats it) and a
self-contained ``report.html`` with its Markdown twin ``report.md``:

- :func:`gradients`: per-layer gradient norms, plain against residual, with and without BatchNorm.
- :func:`degradation`: plain and residual nets of several depths trained alike (the paper's Figure 6).
- :func:`responses`: layer response strengths (the paper's Figure 7).
- :func:`identity`: a deeper residual net that computes exactly a shallower one's function.
- :func:`lesion`: deleting one block at a time from trained nets (Veit et al., 2016).
- :func:`landscape`: the loss surface around trained weights (Li et al., 2018).
- :func:`report`: one page over several studies.

Shared options: ``out`` (default: a new folder under ``runs/``), ``data`` (a ``--data`` spec; the embedded
shapes by default), ``width`` (the first stage's channels: 16 as in the paper, 8 at the quick scale),
``seed`` and ``quick`` (the small CPU scale: each study in minutes on two cores).
"""

from resnets.lab.render import report
from resnets.lab.results import StudyResult, load_result
from resnets.lab.studies.degradation import degradation
from resnets.lab.studies.gradients import gradients
from resnets.lab.studies.identity import identity
from resnets.lab.studies.landscape import landscape
from resnets.lab.studies.lesion import lesion
from resnets.lab.studies.responses import responses

STUDIES = ("gradients", "degradation", "responses", "identity", "lesion", "landscape")

__all__ = ["STUDIES", "StudyResult", "degradation", "gradients", "identity", "landscape", "lesion", "load_result",
           "report", "responses"]
