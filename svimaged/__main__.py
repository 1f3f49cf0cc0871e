"""`python -m svimaged` is the `svimaged` command."""

from svimaged.cli.main import main

raise SystemExit(main())
