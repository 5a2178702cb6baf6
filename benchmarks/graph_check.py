"""Check on a GPU that replayed CUDA-graph steps update the weights as eager steps do, step by step.

    PYTHONPATH=src python3 benchmarks/graph_check.py [--tf32]
"""

from __future__ import annotations

import copy
import sys

import torch
import torch.nn.functional as F

import resnets
from resnets.training.steps import GraphedStep


def main() -> None:
    tf32 = "--tf32" in sys.argv
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.deterministic = True
    torch.manual_seed(0)
    eager_model = resnets.create_model("resnet20").cuda().train()
    graph_model = copy.deepcopy(eager_model)
    opts = []
    for model in (eager_model, graph_model):
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
        for g in opt.param_groups:
            g["lr_scale"] = 1.0
        opts.append(opt)
    step = None
    for i in range(8):
        x, y = torch.randn(64, 3, 32, 32, device="cuda"), torch.randint(0, 10, (64,), device="cuda")
        scale = 1.0 / (i + 1)
        for g in opts[0].param_groups:
            g["lr"] = 0.1 * scale
        loss = F.cross_entropy(eager_model(x), y)
        opts[0].zero_grad(set_to_none=True)
        loss.backward()
        opts[0].step()
        if step is None:
            step = GraphedStep(graph_model, opts[1], lambda o, t: F.cross_entropy(o, t), (x, y), base_lr=0.1,
                               autocast=lambda: torch.autocast("cuda", enabled=False))
        step(x, y, scale)
        torch.cuda.synchronize()
        a, b = eager_model.state_dict(), graph_model.state_dict()
        worst = max((a[k].float() - b[k].float()).abs().max().item() for k in a)
        print(f"tf32={tf32} step {i + 1}: max |eager - graph| = {worst:.3e}")


if __name__ == "__main__":
    main()
