"""How view-width-options.csv was made (issue 27, validation only): PPCL trained with other widths of its
partial views and another L_loc weight (seeds 0-2, side by side, lambda (10, 10)) over the data and GLRec of run A of
commit 8ccb065 (whose default is view_width [0.4, 0.7], lam_loc 30: the row `cur`), read by the ruler on validation.
argv: CACHE_WITH_DATA OUT_CSV label=JSON_CHANGES ...; the seeds from $SEEDS (default 0,1). The call that wrote it:
SEEDS=0,1,2 python view_width_options.py CACHE view-width-options.csv 'cur={}' 'w3565={"view_width":[0.35,0.65]}' \
    'loc50={"lam_loc":50}' 'w3060={"view_width":[0.3,0.6]}'"""
import sys, time
import pandas as pd
from ppcl.run import setup
from ppcl.recipes import train_variants, validation_for, best_epoch
from ppcl.data.bodies import load_bodies
from ppcl.evaluate.validation import locator_agreement, validation_localisation, validate
def main():
    cache, csv = sys.argv[1], sys.argv[2]
    import json
    variants = {}
    for a in sys.argv[3:]:
        lab, v = a.split("=", 1)
        ch = {"lam_cyc": 10.0, "lam_tri": 10.0, **{k: tuple(x) if isinstance(x, list) else x for k, x in json.loads(v).items()}}
        variants[lab] = ch
    run = setup("synthetic", {}, cache_dir=cache, out_dir="/tmp/scratch/run_e1", progress=False)
    bodies = load_bodies(run.root)
    seeds = tuple(int(x) for x in __import__("os").environ.get("SEEDS", "0,1").split(","))
    jobs = [{"variant": "ppcl", "seed": s, **ch} for ch in variants.values() for s in seeds]
    t0 = time.time()
    trained = train_variants(run, jobs, progress=False)
    print("trained in", round(time.time() - t0), "s", flush=True)
    rows = []
    for (lab, ch), i in zip(variants.items(), range(0, len(jobs), len(seeds))):
        for k, s in enumerate(seeds):
            m, h = trained[i + k]
            for c, b in (("frame", None), ("body", bodies)):
                val = validation_for(run, s, bodies=b)
                r = validation_localisation(locator_agreement(m, val, bodies), s, c)
                r.update({"variant": lab, "val_rank1": 100 * validate(m, val, ("+R+L",))["+R+L"]["rank1"],
                          "kept_epoch": best_epoch(h)["epoch"] + 1})
                rows.append(r)
    df = pd.DataFrame(rows)
    df.to_csv(csv, index=False)
    pd.set_option("display.width", 250)
    print(df.groupby(["variant", "crops"])[["val_rank1", "iou_crloc", "iou_fixed", "iou_margin", "area_crloc", "area_true", "area_ratio"]].mean().round(3).to_string())


if __name__ == "__main__":
    main()
