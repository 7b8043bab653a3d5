#!/usr/bin/env bash
# models/fast.h5: the small real-time network, learning from the seven shipped members
# (their flip-averaged predictions on the training faces take each step about 20 minutes
# on a 2-core CPU). A cosine curve fitted to 80 minutes (40 epochs on a 2-core CPU, 65.73%
# on PublicTest with flips), a warm restart fitted to 65 minutes (25 epochs, 65.62%), and
# the mean of the two, its batch-norm statistics re-estimated on all the training faces
# (66.20%); then that file in 8-bit integers for onnxruntime (66.40%, twice as fast).
source "$(dirname "$0")/common.sh"
TEACHERS="models/model_1.h5 models/model_2.h5 models/model_19.h5 models/model_20.h5 models/model_23.h5 \
models/model_24.h5 models/model_25.h5"
step python3 train_fast.py --data "$DATA" --teacher $TEACHERS --time-limit 80 --fit-to-time --output runs/fast/run.h5
step python3 train_fast.py --data "$DATA" --teacher $TEACHERS --init runs/fast/run.h5 --lr 0.01 --epochs 30 --seed 2 \
    --time-limit 65 --fit-to-time --output runs/fast/restart.h5
step python3 average_models.py runs/fast/run.h5 runs/fast/restart.h5 --data "$DATA" --faces 28709 \
    --output models/fast.h5
step python3 export_model.py --models models/fast.h5 --output models/fast --format onnx-int8 --data "$DATA"
