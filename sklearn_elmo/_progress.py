"""The one progress reporter: embedding, training and the command line use it.

On a terminal the line is redrawn in place (at most 10 times a second);
otherwise a line is printed at most every ``interval`` seconds, plus the
last one, so logs stay short.
"""

import sys
import time


def format_seconds(seconds):
    """``m:ss`` or ``h:mm:ss``.

    Examples
    --------
    >>> from sklearn_elmo._progress import format_seconds
    >>> format_seconds(75), format_seconds(3725)
    ('1:15', '1:02:05')
    """
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return f"{seconds // 60}:{seconds % 60:02d}"


class Progress:
    """A progress bar: items done of ``total``, a token rate and the time left.

    Parameters
    ----------
    total : int
        Items to do (texts, tokens, steps).
    verbose : int or bool
        Nothing is shown when it is 0 / False or when ``total`` is 0.
    label : str
        Shown in brackets at the start of the line.
    unit : str, default="texts"
        Name of the items.
    stream : file-like or None, default=None
        Where the lines go; None for ``sys.stdout`` at each write.
    interval : float, default=10.0
        Seconds between lines when ``stream`` is not a terminal.

    Examples
    --------
    >>> import io
    >>> from sklearn_elmo._progress import Progress
    >>> out = io.StringIO()
    >>> progress = Progress(4, verbose=1, label="demo", stream=out)
    >>> progress.update(4, tokens=40)
    >>> out.getvalue().startswith("[demo] 4/4 texts [========================]")
    True
    """

    width = 24

    def __init__(self, total, verbose, label, unit="texts", stream=None, interval=10.0):
        self.total = int(total)
        self.label = label
        self.unit = unit
        self.active = bool(verbose) and self.total > 0
        self.stream = stream
        self.interval = interval
        self.done = 0
        self.tokens = 0
        self.base = 0  # items done before the clock (re)started: not in the rate
        self.start = self.last = time.perf_counter()

    def restart(self, done):
        """Time from now on, ``done`` items in (e.g. after a compiling first step)."""
        self.start = time.perf_counter()
        self.base = done

    def _out(self):
        return self.stream if self.stream is not None else sys.stdout

    def chunk(self, size):
        """A callback ``update(done_windows, total_windows, done_tokens)`` over
        the next ``size`` items (what ``embed_texts(progress=...)`` calls)."""
        base, tokens_before = self.done, self.tokens
        self.done += size

        def update(done_windows, total_windows, done_tokens):
            current = base + size * done_windows // max(total_windows, 1)
            self.update(current, tokens=tokens_before + done_tokens)

        return update

    def update(self, current, tokens=None, extra="", force=False):
        """Show ``current`` items done (and ``tokens`` since the clock started).

        A line is shown at most every ``interval`` seconds off a terminal,
        unless it is the last one or ``force`` is true.
        """
        if tokens is not None:
            self.tokens = tokens
        if not self.active:
            return
        stream = self._out()
        tty = bool(getattr(stream, "isatty", lambda: False)())
        now = time.perf_counter()
        final = current >= self.total
        if not (final or force) and now - self.last < (0.1 if tty else self.interval):
            return
        self.last = now
        elapsed = max(now - self.start, 1e-9)
        filled = self.width * min(current, self.total) // self.total
        bar = "=" * filled + (">" if filled < self.width else "")
        line = f"[{self.label}] {current:,}/{self.total:,} {self.unit} [{bar:<{self.width}}] "
        if self.tokens:
            line += f"{self.tokens / elapsed:,.0f} tokens/s, "
        if final:
            line += f"{format_seconds(elapsed)} elapsed"
        else:
            timed = current - self.base
            left = elapsed * (self.total - current) / max(timed, 1)
            line += f"{format_seconds(left) if timed > 0 else '?'} left"
        if extra:
            line += f", {extra}"
        stream.write(("\r" + line + ("\n" if final else "")) if tty else line + "\n")
        stream.flush()
