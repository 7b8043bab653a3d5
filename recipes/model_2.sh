#!/usr/bin/env bash
# models/model_2.h5: Inception-v1 x0.5, 69.30% on PublicTest with flips.
# One run and its warm-restart chain: 77 epochs on an H200 GPU (12 minutes), then on a
# 2-core CPU six warm restarts (about 5 hours) and a distillation from the fourteen members
# of the time (50 minutes); the mean of four points of the chain, that mean distilled once
# more (47 minutes for the teachers' predictions, 70 for the epochs), and the mean of the two.
# The first step cannot be re-run exactly: the GPU's time ran out after epoch 77 of its
# 120-epoch cosine curve, and the 12-minute --time-limit ends it there only on a GPU of
# that speed; elsewhere, stop it with Ctrl-C after epoch 77.
source "$(dirname "$0")/common.sh"
needs retired
step env KERAS_BACKEND=jax python3 train_inception.py --data "$DATA" --width 0.5 --augment full --schedule cosine \
    --epochs 120 --patience 1000 --seed 44 --time-limit 12 --output runs/model_2/gpu.h5
restart() {  # restart FROM TO LR EPOCHS SEED
    step python3 train_inception.py --data "$DATA" --init "runs/model_2/$1.h5" --width 0.5 --augment full \
        --lr "$3" --schedule cosine --epochs "$4" --patience "$4" --seed "$5" --output "runs/model_2/$2.h5"
}
restart gpu restart_1 0.003 12 45
restart restart_1 restart_2 0.01 24 49
restart restart_2 restart_3 0.006 12 50
restart restart_3 restart_4 0.01 16 51
restart restart_4 restart_5 0.006 12 52
restart restart_5 restart_6 0.006 9 53
# The twelve members of that time: the fourteen less the two this chain has not made yet.
step python3 train_inception.py --data "$DATA" --init runs/model_2/restart_6.h5 --width 0.5 --augment full \
    --lr 0.003 --schedule cosine --epochs 12 --patience 12 --seed 54 \
    --teacher ${FOURTEEN_TEACHERS/runs\/retired\/inception_half.h5 runs\/model_2\/distill_1.h5/} \
    --output runs/model_2/distill_1.h5
step python3 average_models.py runs/model_2/restart_{2,3,5}.h5 runs/model_2/distill_1.h5 --data "$DATA" \
    --output runs/model_2/swa.h5
step python3 train_inception.py --data "$DATA" --init runs/model_2/swa.h5 --width 0.5 --augment full --lr 0.003 \
    --schedule cosine --epochs 8 --patience 8 --seed 90 --teacher $FOURTEEN_TEACHERS --mixed-precision \
    --output runs/model_2/distill_2.h5
step python3 average_models.py runs/model_2/swa.h5 runs/model_2/distill_2.h5 --data "$DATA" --output models/model_2.h5
