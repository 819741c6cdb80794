"""`python -m backstage_cli` runs the `backstage-py` command."""

from backstage_cli._main import main

main()
