"""Progress while training: the package's one reporter, in tokens, with perplexity."""

import sys
import time

from .._progress import Progress


class TrainingProgress:
    """Progress lines of ``train_bilm`` on stderr: tokens done/total, tokens/s,
    time left and training perplexity; every step at ``verbose >= 2``.

    Examples
    --------
    >>> import io
    >>> from sklearn_elmo.training.progress import TrainingProgress
    >>> out = io.StringIO()
    >>> p = TrainingProgress(total=2000, start=0, verbose=2, stream=out)
    >>> p.update(1000, perplexity=50.0)
    >>> "1,000/2,000 tokens" in out.getvalue() and "perplexity 50.0" in out.getvalue()
    True
    """

    def __init__(self, total, start, verbose, stream=None, interval=10.0):
        self.verbose = verbose
        self.stream = sys.stderr if stream is None else stream
        self._progress = Progress(
            total,
            verbose,
            "train_bilm",
            unit="tokens",
            stream=self.stream,
            interval=0.0 if verbose >= 2 else interval,
        )
        self._progress.restart(start)
        self.tokens_per_second = 0.0

    def restart(self, done):
        """Measure rates from now on (after the first, compiling, step)."""
        self._progress.restart(done)

    def message(self, text):
        if self.verbose > 0:
            print(f"train_bilm: {text}", file=self.stream, flush=True)

    def update(self, done, perplexity, force=False):
        progress = self._progress
        elapsed = time.perf_counter() - progress.start
        timed = done - progress.base
        if elapsed > 0 and timed > 0:
            self.tokens_per_second = timed / elapsed
        progress.update(
            done,
            tokens=max(timed, 0),
            extra=f"train perplexity {perplexity:.1f}",
            force=force,
        )
