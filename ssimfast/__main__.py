"""`python -m ssimfast`: score the built-in sample pair and show where it differs."""
import numpy as np

from ssimfast import __version__, structural_similarity
from ssimfast._sample import DAMAGE, sample_pair


def main():
    reference, distorted = sample_pair()
    mean, smap = structural_similarity(reference, distorted, full=True)
    worst = np.unravel_index(np.argmin(smap), smap.shape)
    rows, cols = DAMAGE
    print(f"ssimfast {__version__}: built-in sample pair, {reference.shape[0]}x"
          f"{reference.shape[1]} uint8 (noise everywhere, one flattened block)")
    print(f"mean SSIM:          {mean:.4f}")
    print(f"lowest local SSIM:  {smap[worst]:.4f} at row {worst[0]}, column {worst[1]}")
    print(f"mean SSIM in the flattened block (rows {rows.start}-{rows.stop - 1}, "
          f"columns {cols.start}-{cols.stop - 1}): {smap[DAMAGE].mean():.4f}")


if __name__ == "__main__":
    main()
