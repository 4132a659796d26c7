"""One progress bar for the long commands (train, eda): steps on a tqdm bar, seconds per stage."""

from __future__ import annotations

import time

from tqdm.auto import tqdm


class StageProgress:
    """A progress bar over a run's steps, and the seconds spent in each named stage.

    ``stages_are_steps``: each finished stage also advances the bar (eda counts its stages;
    training counts model fits and ticks them itself).
    """

    def __init__(
        self, total: int, desc: str, unit: str, enabled: bool, stages_are_steps: bool = False
    ) -> None:
        self.bar = tqdm(total=total, desc=desc, unit=unit, disable=not enabled)
        self.seconds: dict[str, float] = {}
        self._desc = desc
        self._stages_are_steps = stages_are_steps
        self._stage = ""
        self._started = time.perf_counter()

    def stage(self, name: str) -> None:
        """Close the current stage (its seconds are kept) and start ``name`` ("" ends)."""
        now = time.perf_counter()
        if self._stage:
            self.seconds[self._stage] = round(now - self._started, 2)
            if self._stages_are_steps:
                self.bar.update(1)
        self._stage, self._started = name, now
        self.bar.set_description(name or self._desc)

    def add(self, steps: int) -> None:
        """Steps discovered on the way (e.g. one a figure)."""
        self.bar.total = (self.bar.total or 0) + steps
        self.bar.refresh()

    def tick(self, label: str) -> None:
        """One step done; ``label`` says which."""
        self.bar.set_postfix_str(label)
        self.bar.update(1)

    def close(self) -> None:
        """End the last stage and the bar."""
        self.stage("")
        self.bar.close()
