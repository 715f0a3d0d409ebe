"""`python -m ssimfast`: the ssimfast command (see ssimfast._cli)."""
import sys

from ssimfast._cli import main

if __name__ == "__main__":
    sys.exit(main())
