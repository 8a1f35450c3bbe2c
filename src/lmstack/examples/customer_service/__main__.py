"""Command line: `python -m lmstack.examples.customer_service OUT_DIR [--seed N] [--scale X]` prints the summary."""

from __future__ import annotations

import argparse
import json

from lmstack.examples.customer_service.generate import generate


def main() -> None:
    parser = argparse.ArgumentParser(description="Generate the Lanting Bank customer-service data set.")
    parser.add_argument("out_dir")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies questions and paragraphs")
    args = parser.parse_args()
    print(json.dumps(generate(args.out_dir, seed=args.seed, scale=args.scale), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
