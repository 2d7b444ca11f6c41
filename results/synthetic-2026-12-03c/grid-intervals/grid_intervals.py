"""Table 1c's grid of an earlier run, read by today's rule: each cell's per-query +R+L hits on the
first seed's validation split (the grid networks loaded from that run's model store, nothing
trained) and its paired interval against (10, 1) (ppcl.evaluate.compare.training_interval, the
interval ablation.lambda_rule = "clear" reads).

    PYTHONPATH=<a clone of commit 7c67270> python grid_intervals.py CACHE_DIR OUT_DIR [TRAIN_JOBS]
"""
import sys, numpy as np
from ppcl.run import setup
from ppcl.recipes import train_variants, validation_for
from ppcl.evaluate.validation import validate
from ppcl.evaluate.compare import hits_at, training_interval
cache, out = sys.argv[1], sys.argv[2]
ov = {}
if len(sys.argv) > 3: ov = {"train_jobs": int(sys.argv[3])}
run = setup("synthetic", ov, cache_dir=cache, out_dir=out)
ab, seed = run.profile.ablation, run.profile.seed
cells = [{"variant": "ppcl", "seed": seed, "epochs": ab.grid_epochs or None, "lam_cyc": lc, "lam_tri": lt}
         for lc in ab.lam_cyc for lt in ab.lam_tri]
trained = train_variants(run, cells, progress=False)
val = validation_for(run, seed)
H = {}
for c, (m, h) in zip(cells, trained):
    r = validate(m, val, ("+R+L",))["+R+L"]
    H[(c["lam_cyc"], c["lam_tri"])] = hits_at(r["per_query"])
    print(c["lam_cyc"], c["lam_tri"], 100 * H[(c["lam_cyc"], c["lam_tri"])].mean())
ref = H[(10.0, 1.0)]
for k, v in H.items():
    if k == (10.0, 1.0): continue
    t = training_interval(v[None], ref[None])
    print(k, "- (10,1):", round(100 * t["mean"], 2), [round(100 * t["low"], 2), round(100 * t["high"], 2)], t["basis"])
