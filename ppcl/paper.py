"""The paper's own numbers (He et al., CVPR 2021), shown beside the kit's — never used as results.

Transcribed from ``shared/paper/tables.md`` (the cleaned tables); percentages.
"""
from __future__ import annotations

# Table 2 (partial images as query) and Table 3 (partial images as gallery):
# method -> (Partial-REID, Partial-iLIDS)
TABLE2 = {
    "MTRC": (23.7, 27.3, 17.7, 26.1),
    "AMC+SWM": (37.3, 46.0, 21.0, 32.8),
    "DSR": (50.7, 70.0, 58.8, 67.2),
    "SFR": (56.9, 78.5, 63.9, 74.8),
    "VPM": (67.7, 81.9, 67.2, 76.5),
    "STNReID": (66.7, 80.3, 54.6, 71.3),
    "PPCL": (79.0, 87.3, 69.7, 84.0),
    "PPCL+": (83.7, 88.7, 71.4, 85.7),
}
TABLE3 = {
    "MTRC": (26.0, 37.0, 28.6, 43.7),
    "AMC+SWM": (44.7, 56.3, 52.7, 63.3),
    "DSR": (58.3, 82.0, 59.7, 79.0),
    "SFR": (66.2, 86.7, 65.6, 81.5),
    "PPCL": (79.7, 91.7, 66.4, 81.5),
    "PPCL+": (88.7, 96.3, 69.7, 82.4),
}
# Table 1a (Partial-REID, partial as query): method -> (R-1, R-3, R-5)
TABLE1A = {
    "Pad": (51.0, 60.3, 64.7),
    "Resize": (51.3, 61.3, 67.7),
    "+R": (65.3, 78.3, 83.3),
    "+R+L (PP-Triplet only)": (71.3, 84.3, 88.0),
    "+R+L (PP-Cycle only)": (72.7, 85.3, 88.7),
    "PPCL": (79.0, 87.3, 90.7),
}
GATE_ACCURACY = 94.3  # GLRec's gate on simulated partial Market-1501
EVAL_SECONDS = {"Resize": 4.1, "+R": 4.8, "+R+L": 29.4}  # Partial-REID evaluation time
# Table 1b (simulated partial Market-1501, R-1): (query %, gallery %) -> R-1
TABLE1B = {
    (20, 20): 9.8, (20, 40): 11.2, (20, 60): 28.6, (20, 80): 37.8,
    (40, 20): 10.5, (40, 40): 18.7, (40, 60): 39.1, (40, 80): 54.8,
    (60, 20): 30.2, (60, 40): 42.1, (60, 60): 63.7, (60, 80): 79.3,
    (80, 20): 37.3, (80, 40): 57.7, (80, 60): 83.2, (80, 80): 92.1,
}
# Table 1c (R-1 on Partial-REID): (λ_cyc, λ_tri) -> R-1
TABLE1C = {
    (0.1, 0.1): 72.4, (0.1, 1.0): 73.5, (0.1, 10.0): 73.1, (0.1, 100.0): 71.8,
    (1.0, 0.1): 75.7, (1.0, 1.0): 74.3, (1.0, 10.0): 74.1, (1.0, 100.0): 72.2,
    (10.0, 0.1): 78.2, (10.0, 1.0): 79.0, (10.0, 10.0): 77.3, (10.0, 100.0): 75.8,
    (100.0, 0.1): 78.9, (100.0, 1.0): 78.8, (100.0, 10.0): 78.1, (100.0, 100.0): 75.7,
}
HOLISTIC_LOSS_BELOW = 1.0  # "< 1%" lost on Market-1501 and DukeMTMC-reID (§4.4)
# Table 4 (Partial-LFW): method -> (R-1, R-3, R-5, R-10); None where the paper gives none
TABLE4 = {
    "MKDSRC-GTP": (1.10, 3.70, 5.60, 8.40),
    "I2C": (6.8, 8.3, 11.20, 14.60),
    "VGGFace": (20.90, None, None, None),
    "DFM": (27.30, 34.40, 39.20, 47.58),
    "SFR": (46.30, 59.30, 65.50, 70.90),
    "PPCL": (52.90, 61.40, 69.40, 73.24),
}
# §5's setting for Table 4 (the paper gives no face training schedule and no published crops)
FACE_SETTING = {
    "training set": "CASIA-WebFace (494,414 images, 10,575 ids)",
    "Partial-LFW identities": 1000,  # those with the most images; one holistic gallery image each
    "input": (224, 224),
    "backbone": "VGGFace (VGG-16), first FC replaced by a GDC",
    "descriptor": 4096,
    "distance": "Euclidean",
}
