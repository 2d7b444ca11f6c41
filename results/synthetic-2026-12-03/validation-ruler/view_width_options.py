"""How view-width-options.csv was made (issue 27, validation only): PPCL trained with other widths of its
partial views and another L_loc weight (seeds 0-2, side by side, lambda (10, 10)) over the data and GLRec of run A of
commit 8ccb065 (whose default is view_width [0.4, 0.7], lam_loc 30: the row `cur`), read by the ruler on validation,
by the box-size script of ../../synthetic-2026-12-02/validation-ruler/ (same arguments). The call that wrote it:

    SEEDS=0,1,2 python view_width_options.py CACHE view-width-options.csv 'cur={}' \
        'w3565={"view_width":[0.35,0.65]}' 'loc50={"lam_loc":50}' 'w3060={"view_width":[0.3,0.6]}'
"""
import runpy
from pathlib import Path

if __name__ == "__main__":
    runpy.run_path(str(Path(__file__).resolve().parents[2] / "synthetic-2026-12-02" / "validation-ruler" / "box_size_options.py"),
                   run_name="__main__")
