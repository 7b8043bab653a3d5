# Sourced by every recipe. Each step runs once: a rerun after an interruption skips the
# steps that finished (listed in runs/recipes.done) and starts the interrupted one again.
# With --dry-run (or RECIPE_DRY_RUN=1) the steps are printed, not run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
for arg in "$@"; do
    if [[ $arg == --dry-run ]]; then export RECIPE_DRY_RUN=1; fi
done
DATA=${DATA:-data/fer2013.csv}
DONE=runs/recipes.done

step() {
    local line="$*"
    if [[ ${RECIPE_DRY_RUN:-} == 1 ]]; then
        echo "$line"
    elif [[ -f $DONE ]] && grep -qxF -- "$line" "$DONE"; then
        echo "done before: $line"
    else
        local resume=()
        if [[ -f $(resume_state "$@") ]]; then resume=(--resume); fi  # an interrupted training goes on
        echo "+ $line ${resume[*]}"
        "$@" "${resume[@]}"
        mkdir -p runs && echo "$line" >> "$DONE"
    fi
}

# The resume point of the --output the command names, if any.
resume_state() {
    local previous=""
    for word in "$@"; do
        if [[ $previous == --output ]]; then echo "${word%.h5}.resume.json"; return; fi
        previous=$word
    done
    echo /nonexistent
}

# The fourteen members of the time that models 2 and 25 learnt from (recipes/retired.sh
# and recipes/model_2.sh make them).
FOURTEEN_TEACHERS="runs/retired/vgg_quarter_1.h5 runs/retired/inception_quarter.h5 \
runs/retired/vgg_quarter_2.h5 runs/retired/vgg_quarter_3.h5 runs/retired/vgg_quarter_4.h5 \
runs/retired/vgg_quarter_5.h5 runs/retired/vgg_quarter_6.h5 runs/model_2/restart_1.h5 runs/model_2/gpu.h5 \
runs/model_2/restart_2.h5 runs/model_2/restart_3.h5 runs/model_2/restart_5.h5 runs/retired/inception_half.h5 \
runs/model_2/distill_1.h5"

# The recipe of models 1, 23 and 24: a VGG-16 x0.75's GPU run fitted to 6.78 minutes, a warm
# restart on the CPU and the mean of the two. vgg_x075 NAME SEED RESTART_SEED MINUTES [FLAG...]
vgg_x075() {
    local name=$1 seed=$2 restart_seed=$3 minutes=$4
    shift 4
    step env KERAS_BACKEND=jax python3 train_vgg.py --data "$DATA" --width 0.75 --augment full --schedule cosine \
        --batch-size 128 --lr 0.02 --epochs 150 --patience 150 --seed "$seed" --mixed-precision --time-limit 6.78 \
        --fit-to-time --output "runs/$name/run.h5"
    step python3 train_vgg.py --data "$DATA" --init "runs/$name/run.h5" --width 0.75 --batch-size 64 --augment full \
        --lr 0.006 --schedule cosine --epochs 12 --patience 12 --seed "$restart_seed" "$@" --time-limit "$minutes" \
        --fit-to-time --output "runs/$name/restart.h5"
    step python3 average_models.py "runs/$name/run.h5" "runs/$name/restart.h5" --data "$DATA" --output "models/$name.h5"
}

# Another recipe's steps, for the files this one needs.
needs() {
    echo "# recipes/$1.sh"
    bash "recipes/$1.sh"
}
