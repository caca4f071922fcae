#!/usr/bin/env bash
# Multi-process training with torchrun.
# Usage: bash tools/dist_train.sh CONFIG NPROC [train.py args...]
# On CPU-only machines the gloo backend is used (mmengine picks it itself when
# CUDA is absent). Multi-node: set NNODES, NODE_RANK, MASTER_ADDR, PORT.
set -euo pipefail
CONFIG=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
TOOLS_DIR="$(cd "$(dirname "$0")" && pwd)"
PYTHON=${PYTHON:-python}
# One node: let gloo (the CPU backend) talk over loopback rather than
# whatever interface the hostname resolves to.
if [ "$NNODES" = "1" ] && [ -z "${GLOO_SOCKET_IFNAME:-}" ]; then
    export GLOO_SOCKET_IFNAME=lo
fi

"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" \
    --master_port="$PORT" \
    "$TOOLS_DIR/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
