#!/usr/bin/env bash
# models/model_25.h5: VGG-16 x0.5, 69.13% on PublicTest with flips, trained on a 2-core CPU
# alone: 100 epochs down a cosine curve (8.8 hours in mixed precision on a CPU with AMX),
# then twice 12 epochs learning from the fourteen members of the time (85 and 50 minutes),
# and the mean of the three points.
source "$(dirname "$0")/common.sh"
needs model_2
step python3 train_vgg.py --data "$DATA" --width 0.5 --batch-size 64 --lr 0.01 --augment full --schedule cosine \
    --epochs 100 --patience 100 --seed 300 --mixed-precision --output runs/model_25/run.h5
step python3 train_vgg.py --data "$DATA" --init runs/model_25/run.h5 --width 0.5 --batch-size 64 --augment full \
    --lr 0.003 --schedule cosine --epochs 12 --patience 12 --seed 301 --teacher $FOURTEEN_TEACHERS \
    --mixed-precision --output runs/model_25/distill_1.h5
step python3 train_vgg.py --data "$DATA" --init runs/model_25/distill_1.h5 --width 0.5 --batch-size 64 \
    --augment full --lr 0.003 --schedule cosine --epochs 12 --patience 12 --seed 302 --teacher $FOURTEEN_TEACHERS \
    --mixed-precision --output runs/model_25/distill_2.h5
step python3 average_models.py runs/model_25/run.h5 runs/model_25/distill_{1,2}.h5 --data "$DATA" \
    --output models/model_25.h5
