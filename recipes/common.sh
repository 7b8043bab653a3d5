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

# Another recipe's steps, for the files this one needs.
needs() {
    echo "# recipes/$1.sh"
    bash "recipes/$1.sh"
}
