"""Two gloo processes under torchrun train one model: shards per rank, one checkpoint from rank 0."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from resnets.training import load_checkpoint

HELPERS = Path(__file__).parents[1] / "helpers"


@pytest.mark.skipif(shutil.which("torchrun") is None and not (Path(sys.executable).parent / "torchrun").exists(),
                    reason="torchrun not installed")
def test_torchrun_two_cpu_processes(tmp_path: Path) -> None:
    script = tmp_path / "ddp.py"
    script.write_text(
        "import sys, torch, torch.distributed as dist\n"
        f"sys.path.insert(0, {str(HELPERS)!r})\n"
        "import tiny_data\n"
        "tiny_data.register()\n"
        "from resnets.training import train\n"
        f"r = train('resnet20', 'tiny', out={str(tmp_path / 'run')!r}, epochs=4, lr=0.05, batch_size=32,\n"
        "          log_every=4, progress=False, plots=False, workers=0)\n"
        "total = sum(float(p.double().sum()) for p in r.model.parameters())\n"
        f"name = {str(tmp_path)!r} + f'/rank{{dist.get_rank()}}-of-{{dist.get_world_size()}}.txt'\n"
        "open(name, 'w').write(repr(total))\n"
    )
    torchrun = Path(sys.executable).parent / "torchrun"
    done = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2", str(script)],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    # each rank writes its own file: lines printed by two processes into one pipe can interleave
    sums = {f.stem: f.read_text() for f in tmp_path.glob("rank*-of-*.txt")}
    assert set(sums) == {"rank0-of-2", "rank1-of-2"}, sums
    assert sums["rank0-of-2"] == sums["rank1-of-2"], "both ranks end with the same weights"
    config = json.loads((tmp_path / "run" / "result.json").read_text())
    assert config["test"]["top1"] >= 0.8
    ckpt = load_checkpoint(tmp_path / "run" / "last.safetensors")
    assert ckpt.config["world_size"] == 2
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 4, "only rank 0 writes metrics"
    assert all(torch.isfinite(v).all() for v in ckpt.weights.values() if v.is_floating_point())
