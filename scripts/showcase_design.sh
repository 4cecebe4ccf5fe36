#!/bin/sh
# The two showcase design studies of the README (issue 12), one after the other, into results/.
# About 25 minutes on 2 CPU cores. Each ends with its verification runs (the ordinary pipeline).
set -e
hostsim design scripts/studies/layer_profile_top_growth.toml --out results/showcase_layer_profile --quiet
hostsim design scripts/studies/free_form_top_growth.toml --out results/showcase_free_form --quiet
