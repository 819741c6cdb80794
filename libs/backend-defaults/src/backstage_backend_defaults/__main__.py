"""`python -m backstage_backend_defaults` runs the `backstage-py` command."""

from backstage_backend_defaults.cli import main

main()
