"""How box-size-options.csv was made (issue 27, validation only): PPCL trained with other settings of its
partial views and L_loc (seeds 0-1, side by side) over run A's data, read by the ruler on validation.
argv: CACHE_WITH_DATA OUT_CSV label=JSON_CHANGES ... (e.g. base={} small={"area": [0.15, 0.6]}); the seeds from
$SEEDS (default 0,1, what made box-size-options.csv)."""
import os, sys, time
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
    seeds = tuple(int(x) for x in os.environ.get("SEEDS", "0,1").split(","))
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
