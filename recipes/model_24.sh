#!/usr/bin/env bash
# models/model_24.h5: VGG-16 x0.75 as model_1, a third seed, 69.02% on PublicTest with flips.
# A GPU run fitted to 6.8 minutes (107 epochs on an H200, best 87), a warm restart on a
# 2-core CPU in float32 (6 epochs in 84 minutes), and the mean of the two.
# --fit-to-time makes the number of epochs depend on the machine: elsewhere, replace
# `--time-limit ... --fit-to-time` (in recipes/common.sh) by the epochs given here.
source "$(dirname "$0")/common.sh"
vgg_x075 model_24 703 708 84
