"""`python -m hookhub` is the same as the `hookhub` command."""

from hookhub.cli import main

main()
