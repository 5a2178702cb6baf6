#!/usr/bin/env bash
# Make the peers' environments for the benchmarks and parity scripts (never for the package or CI):
#   $PEERS/tv-venv : torch 2.14.1 + torchvision 0.29.1 + timm 1.0.31 (CUDA builds that run on the CPU; ~5.7 GB)
#   $PEERS/tf-venv : tensorflow-cpu 2.21.0 with Keras 3.15 (the course's own stack; ~1.6 GB)
# torchvision and timm do not import beside this project's CPU torch 2.13, hence a separate venv.
# Usage: bash benchmarks/setup_peers.sh [PEERS_DIR]   (default: ../peers beside the checkout)
set -euo pipefail
cd "$(dirname "$0")/.."
PEERS=${1:-../peers}
mkdir -p "$PEERS"
constraints="$PEERS/tv-constraints.txt"
printf 'torch==2.14.1\ntorchvision==0.29.1\n' > "$constraints"

python3 -m venv "$PEERS/tv-venv"
"$PEERS/tv-venv/bin/pip" install -q torch==2.14.1 torchvision==0.29.1
"$PEERS/tv-venv/bin/pip" install -q -c "$constraints" timm==1.0.31 numpy safetensors pyyaml pillow rich h5py \
  matplotlib onnx onnxruntime onnxscript
"$PEERS/tv-venv/bin/python" -c "import torch, torchvision, timm; torchvision.models.resnet18()(torch.zeros(1, 3, 64, 64)); print('tv-venv:', torch.__version__, torchvision.__version__, timm.__version__)"

python3 -m venv "$PEERS/tf-venv"
"$PEERS/tf-venv/bin/pip" install -q tensorflow-cpu==2.21.0 h5py numpy pillow
"$PEERS/tf-venv/bin/python" -c "import keras, tensorflow as tf; print('tf-venv:', tf.__version__, keras.__version__)"
