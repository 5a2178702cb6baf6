"""What a run shows while it trains: a bar per epoch (loss, accuracy, images/s, ETA) and one summary
line per epoch. Only the main process reports; ``enabled=False`` keeps just the summary lines."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class Reporter:
    """Progress bars and summary lines of a run."""

    def __init__(self, *, enabled: bool = True, active: bool = True, console: Console | None = None) -> None:
        self.active = active
        self.console = console or Console(highlight=False)
        self.bars = enabled and active and self.console.is_terminal
        self._progress: Progress | None = None
        self._task: Any = None

    def line(self, text: str) -> None:
        if self.active:
            self.console.print(text)
            self.console.file.flush()  # a log file shows each epoch as it ends

    def start_epoch(self, epoch: int, epochs: int, steps: int) -> None:
        if not self.bars:
            return
        self._progress = Progress(
            TextColumn(f"epoch {epoch}/{epochs}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task("train", total=steps, stats="")

    def advance(self, steps: int, stats: dict[str, float] | None = None) -> None:
        if self._progress is None:
            return
        text = ""
        if stats:
            text = (f"loss {stats['loss']:.4f}  acc {stats['acc']:.4f}  {stats['img_s']:.0f} img/s")
        self._progress.update(self._task, advance=steps, stats=text)

    def end_epoch(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
