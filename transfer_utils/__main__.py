"""``python -m transfer_utils``: print the environment report; exit 1 when data is missing or bad."""

from transfer_utils.report import main

raise SystemExit(main())
