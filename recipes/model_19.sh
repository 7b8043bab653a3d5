#!/usr/bin/env bash
# models/model_19.h5: VGG-16 x0.5, 68.63% on PublicTest with flips.
# A GPU run stopped by its 7.4-minute limit (108 of 115 epochs on an H200, best 103), a
# warm restart on a 2-core CPU (10 epochs, 31 minutes), the mean of the two, a second warm
# restart of that mean (8 epochs, 20 minutes), and the mean of those. The first run's
# length depends on the machine: elsewhere, give it --epochs 108 without --time-limit.
source "$(dirname "$0")/common.sh"
step env KERAS_BACKEND=jax python3 train_vgg.py --data "$DATA" --width 0.5 --augment full --schedule cosine \
    --batch-size 128 --lr 0.02 --epochs 115 --patience 115 --seed 504 --mixed-precision --time-limit 7.4 \
    --output runs/model_19/run.h5
step python3 train_vgg.py --data "$DATA" --init runs/model_19/run.h5 --width 0.5 --batch-size 64 --augment full \
    --lr 0.006 --schedule cosine --epochs 10 --patience 10 --seed 506 --mixed-precision \
    --output runs/model_19/restart_1.h5
step python3 average_models.py runs/model_19/run.h5 runs/model_19/restart_1.h5 --data "$DATA" \
    --output runs/model_19/mean.h5
step python3 train_vgg.py --data "$DATA" --init runs/model_19/mean.h5 --width 0.5 --batch-size 64 --augment full \
    --lr 0.006 --schedule cosine --epochs 10 --patience 10 --seed 512 --mixed-precision --time-limit 21 \
    --fit-to-time --output runs/model_19/restart_2.h5
step python3 average_models.py runs/model_19/mean.h5 runs/model_19/restart_2.h5 --data "$DATA" --output models/model_19.h5
