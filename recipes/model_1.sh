#!/usr/bin/env bash
# models/model_1.h5: VGG-16 x0.75, 69.99% on PublicTest with flips.
# A GPU run whose cosine curve was fitted to 6.8 minutes (105 epochs on an H200, best 86),
# a warm restart on a 2-core CPU (9 epochs in 32 minutes), and the mean of the two.
# --fit-to-time makes the number of epochs depend on the machine: elsewhere, replace
# `--time-limit ... --fit-to-time` (in recipes/common.sh) by the epochs given here.
source "$(dirname "$0")/common.sh"
vgg_x075 model_1 701 706 34 --mixed-precision
