"""`python -m bench [--quick] [--full] [--profile]`: run every benchmark."""

from bench.run import main

raise SystemExit(main())
