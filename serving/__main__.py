"""`python -m serving --bundle PATH`: the `tierwise serve` command without the other packages'
sub-commands (useful in minimal serving images that install only the serve extra)."""

from __future__ import annotations

import argparse
import logging
import sys

from serving.cli import register


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serving")
    subparsers = parser.add_subparsers(dest="command")
    register(subparsers)
    args = parser.parse_args(["serve", *(sys.argv[1:] if argv is None else argv)])
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return int(args.handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
