"""``python -m matcalc`` is the ``matcalc`` command."""
from matcalc.shell.cli import main

raise SystemExit(main())
