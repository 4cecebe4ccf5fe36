#!/bin/sh
# The showcase design studies of the README, one after the other, into results/.
# About 40 minutes on 2 quiet CPU cores with the 24 fixed plating steps of an earlier version (not
# remeasured: the adaptive transient takes the steps [numerics] time_tolerance asks for, at most
# [design] max_steps). Each ends with its verification runs (the ordinary pipeline).
# The unconstrained free-form study is the constrained one without its [constraints] section; its
# study file is kept with its results (results/showcase_free_form_unconstrained/study.toml).
set -e
hostsim design scripts/studies/layer_profile_top_growth.toml --out results/showcase_layer_profile --quiet
hostsim design scripts/studies/layer_profile_warmup.toml --out results/showcase_layer_profile_warmup --quiet
hostsim design scripts/studies/family_graded_top_growth.toml --out results/showcase_family_graded --quiet
hostsim design scripts/studies/free_form_top_growth.toml --out results/showcase_free_form --quiet
hostsim design scripts/studies/free_form_geometric_beta.toml --out results/showcase_free_form_geometric --quiet
hostsim design scripts/studies/coating_profile.toml --out results/showcase_coating_profile --quiet
hostsim design scripts/studies/coating_profile_film_only.toml --out results/showcase_coating_profile_film_only --quiet
hostsim design results/showcase_free_form_unconstrained/study.toml --out /tmp/showcase_free_form_unconstrained --quiet
