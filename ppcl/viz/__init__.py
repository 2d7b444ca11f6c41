"""Figures for the notebooks, and the correspondence viewer (imported on first use: ipywidgets is slow to import)."""
from .faces import located_faces, roc_curves
from .plots import (BLUE, GREEN, RED, cmc_curves, crops_on_holistic, draw_box, identity_grid, image_grid, locator_scatter, loss_curves, notebook_style,
                    save_and_show, pairs_figure, partial_examples_figure, ranked_list, save_figure, to_display, validation_curves, differences_plot, distance_histograms, figure5_plot, heatmap, correspondence_figure, box_distributions,
                    localisation_plot)

__all__ = ["BLUE", "CorrespondenceViewer", "ViewerData", "located_faces", "roc_curves", "GREEN", "RED", "cmc_curves", "crops_on_holistic", "draw_box", "identity_grid", "image_grid", "locator_scatter", "loss_curves", "notebook_style",
           "save_and_show", "pairs_figure", "partial_examples_figure", "ranked_list", "save_figure", "to_display", "validation_curves", "differences_plot", "distance_histograms", "figure5_plot", "heatmap", "correspondence_figure", "box_distributions", "localisation_plot"]


def __getattr__(name):
    if name in ("CorrespondenceViewer", "ViewerData"):
        from . import viewer

        return getattr(viewer, name)
    raise AttributeError(f"module 'ppcl.viz' has no attribute {name!r}")
