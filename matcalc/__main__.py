"""``python -m matcalc`` is the ``matcalc`` command."""
from .cli import main

raise SystemExit(main())
