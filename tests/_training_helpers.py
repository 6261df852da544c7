"""A small synthetic language for the trainer's tests.

Sentences of a toy grammar with number agreement (singular subjects take
"sees", plural ones "see"), so a biLM that learns anything beats the unigram
model of the same text by far.
"""

import numpy as np

DET = ["the", "a", "every", "some"]
ADJ = ["big", "small", "red", "old", "happy"]
NOUN = {
    False: ["cat", "dog", "bird", "child", "teacher"],
    True: ["cats", "dogs", "birds"],
}
VERB = {
    False: ["sees", "likes", "chases", "finds"],
    True: ["see", "like", "chase", "find"],
}


def grammar_sentences(n, seed):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        words = [str(rng.choice(DET))]
        if rng.random() < 0.5:
            words.append(str(rng.choice(ADJ)))
        plural = bool(rng.random() < 0.4)
        words.append(str(rng.choice(NOUN[plural])))
        words.append(str(rng.choice(VERB[plural])))
        words += [str(rng.choice(DET)), str(rng.choice(NOUN[False])), "."]
        out.append(" ".join(words))
    return out


def unigram_perplexity(train, heldout):
    """Perplexity of held-out words (and </S>) under the training unigram counts."""
    from collections import Counter

    counts = Counter(w for s in train for w in s.split() + ["</S>"])
    total = sum(counts.values())
    words = [w for s in heldout for w in s.split() + ["</S>"]]
    return float(np.exp(-np.mean([np.log(counts[w] / total) for w in words])))
