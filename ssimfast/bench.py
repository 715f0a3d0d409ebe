"""`python -m ssimfast.bench`: the speedup table of ssimfast.bench() (see _bench.py)."""
from ssimfast._bench import bench, main

__all__ = ["bench", "main"]

if __name__ == "__main__":
    main()
