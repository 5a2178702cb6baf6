"""CPU inference: ResNet-50 at 224x224, latency at batch 1 and throughput at batch 32.

    /work/peers/tv-venv/bin/python benchmarks/cpu_infer.py          # with torchvision and timm
    .venv/bin/python benchmarks/cpu_infer.py --libraries ours,onnx  # ours only

Contenders: ours eager (fp32; bf16 autocast + channels_last), ours with BatchNorm folded (what ``resnets
predict`` and ``serve`` run on torch), ours compiled, ours through ONNX Runtime
(fp32), torchvision and timm eager. Workers alternate window by window; medians of ``--repeats``
windows; ratios against torchvision fp32 (or our eager fp32 without the peers). JSON to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from _workers import HERE, Worker, machine
from cpu_train import run, table


def contenders(batch: int, libraries: list[str], compiled: bool) -> list[dict]:
    rows = []
    common = dict(worker="torch", model="resnet50", batch=batch, size=224, classes=1000, mode="infer")
    for library in libraries:
        if library == "onnx":
            rows.append(dict(library="onnx", label=f"ours via ONNX Runtime fp32 b{batch}", **common))
            continue
        rows.append(dict(library=library, label=f"{library} fp32 b{batch}", **common))
        rows.append(dict(library=library, label=f"{library} bf16+CL b{batch}", precision="bf16", channels_last=True,
                         **common))
        if library == "ours":
            rows.append(dict(library="ours", label=f"ours folded fp32 b{batch}", fold=True, **common))
            rows.append(dict(library="ours", label=f"ours folded bf16+CL b{batch}", precision="bf16",
                             channels_last=True, fold=True, **common))
        if compiled and library == "ours":
            rows.append(dict(library="ours", label=f"ours bf16+CL compiled b{batch}", precision="bf16",
                             channels_last=True, compile=True, **common))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--libraries", default="ours,onnx,torchvision,timm")
    parser.add_argument("--batches", default="1,32")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args()
    libraries = args.libraries.split(",")
    worker = Worker("torch", sys.executable, "_torch_worker.py")
    report = {"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M"), "versions": worker.ask(cmd="versions")}
    rows_all = []
    try:
        for batch in map(int, args.batches.split(",")):
            steps = 20 if batch == 1 else 2
            rows = run(contenders(batch, libraries, not args.no_compile), {"torch": worker}, args.repeats, steps)
            base = f"torchvision fp32 b{batch}" if "torchvision" in libraries else f"ours fp32 b{batch}"
            table(rows, base)
            rows_all += rows
    finally:
        worker.close()
    report["rows"] = rows_all
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"cpu_infer_{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
