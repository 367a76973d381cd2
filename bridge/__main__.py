"""`python -m bridge` is the `badge-bridge` command."""

from bridge.cli import main

main()
