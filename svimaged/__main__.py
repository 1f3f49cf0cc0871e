"""`python -m svimaged` is the `svimaged` command."""

from svimaged.cli import main

raise SystemExit(main())
