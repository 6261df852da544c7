"""Progress lines while training: tokens done/total, tokens/s, ETA, perplexity."""

import sys
import time


def _duration(seconds):
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"


class TrainingProgress:
    """Print a line every ``interval`` seconds (every step at ``verbose >= 2``).

    Examples
    --------
    >>> import io
    >>> from sklearn_elmo.training.progress import TrainingProgress
    >>> out = io.StringIO()
    >>> p = TrainingProgress(total=2000, start=0, verbose=2, stream=out)
    >>> p.update(1000, perplexity=50.0)
    >>> "1,000/2,000 tokens (50.0%)" in out.getvalue()
    True
    """

    def __init__(self, total, start, verbose, stream=None, interval=10.0):
        self.total, self.start = total, start
        self.verbose = verbose
        self.stream = sys.stderr if stream is None else stream
        self.interval = 0.0 if verbose >= 2 else interval
        self.t0 = time.monotonic()
        self.last = self.t0
        self.tokens_per_second = 0.0

    def restart(self, done):
        """Measure rates from now on (after the first, compiling, step)."""
        self.t0 = time.monotonic()
        self.start = done

    def message(self, text):
        if self.verbose > 0:
            print(f"train_bilm: {text}", file=self.stream, flush=True)

    def update(self, done, perplexity, force=False):
        now = time.monotonic()
        elapsed = now - self.t0
        if elapsed > 0 and done > self.start:
            self.tokens_per_second = (done - self.start) / elapsed
        if self.verbose <= 0 or (not force and now - self.last < self.interval):
            return
        self.last = now
        rate = self.tokens_per_second
        eta = _duration((self.total - done) / rate) if rate > 0 else "?"
        percent = 100.0 * done / self.total if self.total else 100.0
        self.message(
            f"{done:,}/{self.total:,} tokens ({percent:.1f}%)  {rate:,.0f} tokens/s  "
            f"ETA {eta}  train perplexity {perplexity:.1f}"
        )
