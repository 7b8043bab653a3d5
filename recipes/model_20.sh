#!/usr/bin/env bash
# models/model_20.h5: VGG-16 x0.5, another seed, 68.26% on PublicTest with flips.
# A GPU run (100 epochs on an H200 in 7 minutes, best 91), a warm restart on a 2-core CPU
# in float32 (7 epochs in 91 minutes: begun with --time-limit 102, stopped after epoch 4
# and resumed with `--resume --time-limit 41 --fit-to-time`), and the mean of the two.
source "$(dirname "$0")/common.sh"
step env KERAS_BACKEND=jax python3 train_vgg.py --data "$DATA" --width 0.5 --augment full --schedule cosine \
    --batch-size 128 --lr 0.02 --epochs 100 --patience 100 --seed 505 --mixed-precision --time-limit 7.4 \
    --output runs/model_20/run.h5
step python3 train_vgg.py --data "$DATA" --init runs/model_20/run.h5 --width 0.5 --batch-size 64 --augment full \
    --lr 0.006 --schedule cosine --epochs 10 --patience 10 --seed 517 --time-limit 102 --fit-to-time \
    --output runs/model_20/restart.h5
step python3 average_models.py runs/model_20/run.h5 runs/model_20/restart.h5 --data "$DATA" --output models/model_20.h5
