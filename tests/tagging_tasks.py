"""Synthetic tagging tasks for the token-level tests.

``char_task``: the tag depends on a token's characters: capitalised words
are "CAP", numbers "NUM", lower-case words "O". ``context_task``: the tag
depends on the context only: a word right after the trigger "mr" is "B-PER",
every other token "O", and the tagged words are the same lower-case words
that appear untagged elsewhere.
"""

import numpy as np

LOWER = [
    "the",
    "a",
    "cat",
    "dog",
    "sat",
    "ran",
    "on",
    "under",
    "big",
    "small",
    "red",
    "blue",
    "house",
    "tree",
    "fast",
    "slow",
]
CAPS = [
    "Anna",
    "Oslo",
    "Bob",
    "Paris",
    "Kim",
    "Rome",
    "Eva",
    "Lima",
    "Ugo",
    "Nara",
    "Ivo",
    "Bern",
]
DIGITS = ["7", "42", "1999", "3", "815", "60", "2024", "11"]
# Held-out forms: a tagger that learned characters, not tokens, tags them too.
NEW_CAPS = ["Zoe", "Ada", "Leo", "Mia", "Ole", "Tom"]
NEW_DIGITS = ["5", "88", "123", "9", "4096"]


def char_task(n, seed, caps=CAPS, digits=DIGITS):
    rng = np.random.RandomState(seed)
    X, y = [], []
    for _ in range(n):
        sentence, tags = [], []
        for _ in range(rng.randint(3, 10)):
            r = rng.rand()
            if r < 0.2:
                sentence.append(str(rng.choice(caps)))
                tags.append("CAP")
            elif r < 0.35:
                sentence.append(str(rng.choice(digits)))
                tags.append("NUM")
            else:
                sentence.append(str(rng.choice(LOWER)))
                tags.append("O")
        X.append(sentence)
        y.append(tags)
    return X, y


def context_task(n, seed):
    rng = np.random.RandomState(seed)
    X, y = [], []
    for _ in range(n):
        sentence = [str(w) for w in rng.choice(LOWER, rng.randint(4, 10))]
        for j in range(len(sentence) - 1):
            if rng.rand() < 0.25:
                sentence[j] = "mr"
        tags = [
            "B-PER" if j > 0 and sentence[j - 1] == "mr" and word != "mr" else "O"
            for j, word in enumerate(sentence)
        ]
        X.append(sentence)
        y.append(tags)
    return X, y


def token_accuracy(y_true, y_pred):
    pairs = [(t, p) for ts, ps in zip(y_true, y_pred) for t, p in zip(ts, ps)]
    return float(np.mean([t == p for t, p in pairs]))


def majority_accuracy(y):
    _, counts = np.unique([t for tags in y for t in tags], return_counts=True)
    return counts.max() / counts.sum()
