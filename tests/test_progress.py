"""The one progress reporter."""

from sklearn_elmo._progress import Progress, format_seconds


def test_progress_bar_on_a_terminal_shows_time_left():
    class Terminal(list):
        def write(self, text):
            self.append(text)

        def flush(self):
            pass

        def isatty(self):
            return True

    screen = Terminal()
    progress = Progress(100, verbose=1, label="T", stream=screen)
    update = progress.chunk(100)
    progress.last -= 1.0
    update(1, 4, 50)
    update(4, 4, 200)
    assert screen[0].startswith("\r[T] 25/100 texts [======>") and "left" in screen[0]
    assert screen[-1].endswith("elapsed\n") and "100/100" in screen[-1]


def test_quiet_and_plain_streams():
    import io

    quiet = io.StringIO()
    Progress(10, verbose=0, label="q", stream=quiet).update(10)
    assert quiet.getvalue() == ""
    plain = io.StringIO()
    progress = Progress(10, verbose=1, label="p", unit="steps", stream=plain)
    progress.update(3, tokens=30)  # within the interval: nothing yet
    progress.update(10, tokens=100, extra="ppl 12.5")
    (line,) = plain.getvalue().splitlines()
    assert line.startswith("[p] 10/10 steps") and line.endswith("elapsed, ppl 12.5")
    assert format_seconds(59.6) == "1:00"
