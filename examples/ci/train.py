"""Train and register a churn model (a CI step): ``python examples/ci/train.py [--seed N]``.

Writes to the workspace ``MLOPSKIT_HOME`` names; prints the new version's URI.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline import train

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bad", action="store_true", help="shuffle the labels (a bad model)")
    args = parser.parse_args()
    print(train(args.seed, bad=args.bad))
