#!/usr/bin/env bash
# models/model_23.h5: VGG-16 x0.75 as model_1, another seed, 69.38% on PublicTest with flips.
# A GPU run fitted to 6.8 minutes (106 epochs on an H200, best 100), a warm restart on a
# 2-core CPU (8 epochs in 28 minutes), and the mean of the two.
# --fit-to-time makes the number of epochs depend on the machine: elsewhere, replace
# `--time-limit ... --fit-to-time` (in recipes/common.sh) by the epochs given here.
source "$(dirname "$0")/common.sh"
vgg_x075 model_23 702 707 30 --mixed-precision
