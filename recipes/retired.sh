#!/usr/bin/env bash
# The retired members that models 2 and 25 learnt from, all trained on a 2-core CPU: six
# VGG-16 x0.25 from six seeds (1.8 to 3.2 hours each), an Inception-v1 x0.25 and its warm
# restart (6.5 hours), and a second Inception-v1 x0.5 from scratch with a restart (3.2 hours).
source "$(dirname "$0")/common.sh"
step python3 train_vgg.py --data "$DATA" --width 0.25 --batch-size 64 --lr 0.01 --augment light --schedule plateau \
    --epochs 45 --patience 8 --output runs/retired/vgg_quarter_1.h5
step python3 train_inception.py --data "$DATA" --width 0.25 --augment light --schedule plateau --epochs 30 \
    --patience 8 --output runs/retired/inception_quarter_run.h5
step python3 train_inception.py --data "$DATA" --init runs/retired/inception_quarter_run.h5 --width 0.25 \
    --augment light --lr 0.0025 --schedule cosine --epochs 16 --patience 16 --seed 2 \
    --output runs/retired/inception_quarter.h5
step python3 train_vgg.py --data "$DATA" --width 0.25 --batch-size 64 --lr 0.01 --augment light --schedule plateau \
    --epochs 45 --patience 8 --seed 2 --output runs/retired/vgg_quarter_2.h5
for seed in 3 4 5 6; do
    step python3 train_vgg.py --data "$DATA" --width 0.25 --batch-size 64 --lr 0.01 --augment light \
        --schedule plateau --epochs 40 --patience 8 --seed $seed --output runs/retired/vgg_quarter_$seed.h5
done
step python3 train_inception.py --data "$DATA" --width 0.5 --augment full --schedule cosine --epochs 36 \
    --patience 36 --seed 60 --time-limit 118 --output runs/retired/inception_half_run.h5
step python3 train_inception.py --data "$DATA" --init runs/retired/inception_half_run.h5 --width 0.5 \
    --augment full --lr 0.01 --schedule cosine --epochs 24 --patience 24 --seed 61 --time-limit 95 \
    --output runs/retired/inception_half.h5
