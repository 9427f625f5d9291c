"""``python -m mlopskit``: the command line (see docs/cli.md)."""

from mlopskit.cli import main

if __name__ == "__main__":
    main()
