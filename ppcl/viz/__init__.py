"""Figures for the notebooks (and, later, the correspondence viewer)."""
from .plots import (BLUE, GREEN, RED, cmc_curves, crops_on_holistic, draw_box, identity_grid, image_grid, locator_scatter, loss_curves, notebook_style,
                    save_and_show, pairs_figure, partial_examples_figure, ranked_list, save_figure, to_display, validation_curves, differences_plot, distance_histograms, figure5_plot, heatmap, correspondence_figure, box_distributions)

__all__ = ["BLUE", "GREEN", "RED", "cmc_curves", "crops_on_holistic", "draw_box", "identity_grid", "image_grid", "locator_scatter", "loss_curves", "notebook_style",
           "save_and_show", "pairs_figure", "partial_examples_figure", "ranked_list", "save_figure", "to_display", "validation_curves", "differences_plot", "distance_histograms", "figure5_plot", "heatmap", "correspondence_figure", "box_distributions"]
