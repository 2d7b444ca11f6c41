"""Figures for the notebooks (and, later, the correspondence viewer)."""
from .plots import BLUE, GREEN, RED, crops_on_holistic, cmc_curves, draw_box, identity_grid, image_grid, loss_curves, ranked_list, to_display

__all__ = ["BLUE", "GREEN", "RED", "cmc_curves", "crops_on_holistic", "draw_box", "identity_grid", "image_grid", "loss_curves", "ranked_list", "to_display"]
