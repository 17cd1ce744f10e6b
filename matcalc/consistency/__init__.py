"""The dimension-consistency shortcut, judged against the true derivative (``matcalc.shortcut``)."""
from matcalc.consistency.explain import ShortcutResult, shortcut  # noqa: F401
