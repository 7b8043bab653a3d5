#!/usr/bin/env bash
# models/model_23.h5: VGG-16 x0.75 as model_1, another seed, 69.38% on PublicTest with flips.
# A GPU run fitted to 6.8 minutes (106 epochs on an H200, best 100), a warm restart on a
# 2-core CPU (8 epochs in 28 minutes), and the mean of the two. On another machine,
# replace `--time-limit ... --fit-to-time` by those epochs.
source "$(dirname "$0")/common.sh"
step env KERAS_BACKEND=jax python3 train_vgg.py --data "$DATA" --width 0.75 --augment full --schedule cosine \
    --batch-size 128 --lr 0.02 --epochs 150 --patience 150 --seed 702 --mixed-precision --time-limit 6.78 \
    --fit-to-time --output runs/model_23/run.h5
step python3 train_vgg.py --data "$DATA" --init runs/model_23/run.h5 --width 0.75 --batch-size 64 --augment full \
    --lr 0.006 --schedule cosine --epochs 12 --patience 12 --seed 707 --mixed-precision --time-limit 30 \
    --fit-to-time --output runs/model_23/restart.h5
step python3 average_models.py runs/model_23/run.h5 runs/model_23/restart.h5 --data "$DATA" --output models/model_23.h5
