"""How validation-ruler/run-*.csv were made: the kit's ruler on validation (notebook 03's
tables/03_localisation_validation from commit 6c1f895 on) applied to a finished run's PPCL models,
which were trained before that table existed.

    python results/synthetic-2026-12-02/validation-ruler/validation_ruler.py CACHE RUN_FOLDER OUT.csv

CACHE is the run's cache (its synthetic data), RUN_FOLDER the run folder (its checkpoints/ppcl-s*.pt).
"""
import sys

import pandas as pd

from ppcl.data.bodies import load_bodies
from ppcl.evaluate.validation import locator_agreement, validation_localisation
from ppcl.recipes import load_variant, validation_for
from ppcl.run import setup

cache, run_folder, out = sys.argv[1:4]
run = setup("synthetic", {}, cache_dir=cache, out_dir=f"{run_folder}/validation-ruler", progress=False)
bodies = load_bodies(run.root)
rows = []
for s in run.profile.seeds:
    model = load_variant(f"{run_folder}/checkpoints/ppcl-s{s}.pt").eval()
    for crops, b in (("frame", None), ("body", bodies)):
        rows.append(validation_localisation(locator_agreement(model, validation_for(run, s, bodies=b), bodies), s, crops))
pd.DataFrame(rows).round(3).to_csv(out, index=False)
