"""The LFW-style tree's bookkeeping: person names, images per person, and View-2 pairs.

Nothing is drawn here: names come from a deterministic syllable generator, image counts are
skewed like LFW's (most people have one image, a few many), and pairs.txt has person-disjoint
folds of matched then mismatched pairs.
"""
from __future__ import annotations

import numpy as np

from .palettes import pick
from .streams import stream

ONSETS = ("b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "br", "ch", "st", "tr", "sh")
VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "ou")
CODAS = ("", "", "", "n", "r", "s", "l", "m", "t", "ck")


def _word(rng: np.random.Generator, syllables: int) -> str:
    parts = [pick(rng, ONSETS) + pick(rng, VOWELS) for _ in range(syllables)]
    return ("".join(parts) + pick(rng, CODAS)).capitalize()


def person_names(seed: int, n: int) -> list[str]:
    """``n`` unique ``First_Last`` names from a deterministic syllable generator."""
    rng = stream(seed, "names", 0)
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < n:
        name = f"{_word(rng, int(rng.integers(1, 3)))}_{_word(rng, int(rng.integers(2, 4)))}"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def lfw_image_counts(rng: np.random.Generator, n: int, max_images: int) -> list[int]:
    """Images per person, skewed like LFW: most have one, a few have many."""
    counts = []
    for _ in range(n):
        if rng.random() < 0.55:
            counts.append(1)
        else:
            counts.append(int(min(1 + rng.zipf(1.7), max_images)))
    # LFW's head: the largest identity has many images
    if n and max_images > 1:
        counts[int(rng.integers(n))] = max_images
    return counts


def _fold_members(rng: np.random.Generator, n: int, counts: list[int], folds: int) -> list[list[int]]:
    """Person-disjoint folds of ``n`` people: those with two or more images dealt round-robin first."""
    order = rng.permutation(n)
    multi = [i for i in order if counts[i] >= 2]
    single = [i for i in order if counts[i] < 2]
    members: list[list[int]] = [[] for _ in range(folds)]
    for k, i in enumerate(multi):
        members[k % folds].append(int(i))
    for k, i in enumerate(single):
        members[(k + len(multi)) % folds].append(int(i))
    return members


def lfw_pairs(rng: np.random.Generator, names: list[str], counts: list[int], folds: int,
              per_fold: int) -> tuple[int, list[list[tuple]]]:
    """LFW View-2 style pairs: person-disjoint folds of matched then mismatched pairs.

    Returns ``(per_fold, folds)`` where ``per_fold`` may be lowered so every fold has that many
    distinct matched pairs; each fold is a list of ``(name, n1, n2)`` followed by
    ``(name1, n1, name2, n2)`` tuples.
    """
    members = _fold_members(rng, len(names), counts, folds)
    avail = [sum(counts[i] * (counts[i] - 1) // 2 for i in m) for m in members]
    per_fold = max(0, min(per_fold, *avail, *(len(m) * (len(m) - 1) // 2 for m in members)))
    out = []
    for m in members:
        matched: list[tuple] = []
        cand = [(i, a, b) for i in m for a in range(1, counts[i] + 1) for b in range(a + 1, counts[i] + 1)]
        for j in rng.permutation(len(cand))[:per_fold]:
            i, a, b = cand[j]
            matched.append((names[i], a, b))
        mism: set[tuple] = set()
        while len(mism) < per_fold:
            i, k = rng.choice(len(m), 2, replace=False)
            p, q = sorted((m[i], m[k]), key=lambda z: names[z])
            mism.add((names[p], int(rng.integers(1, counts[p] + 1)), names[q], int(rng.integers(1, counts[q] + 1))))
        out.append(sorted(matched) + sorted(mism))
    return per_fold, out
