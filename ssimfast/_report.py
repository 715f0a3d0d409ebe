"""report(): where two images differ, not only how much.

A mean SSIM of 0.97 can hide one badly damaged region. The report gives the
mean with the local picture: the lowest local SSIM and where it is,
percentiles of the map, the fraction of the image below thresholds, and the
worst regions as non-overlapping boxes, plus a reading of the mean in bands.

All statistics are taken over the same pixels as the mean: the map without a
border of (win_size - 1) // 2 on each axis, whose windows leave the image.
"""
import dataclasses

import numpy as np

from ssimfast import _heatmap, _positions
from ssimfast._plan import resolve, split_options
from ssimfast._ssim import run

__all__ = ["report", "SSIMReport", "Region", "band", "BANDS", "CAVEAT"]

# The reading of a mean SSIM: above 0.95 very high, 0.8 to 0.95 good, 0.7 to
# 0.8 moderate, below 0.7 low.
BANDS = (("very high", "above 0.95"), ("good", "0.8 to 0.95"), ("moderate", "0.7 to 0.8"),
         ("low", "below 0.7"))
CAVEAT = (
    "These bands are a rough guide: what counts as good depends on the images and "
    "the use; SSIM is best used to compare methods with each other on the same images."
)


def band(score):
    """The band of a mean SSIM (see BANDS); a boundary value takes the lower band's
    upper end: 0.95 is good, 0.8 good, 0.7 moderate."""
    if score > 0.95:
        return "very high"
    if score >= 0.8:
        return "good"
    if score >= 0.7:
        return "moderate"
    return "low"


@dataclasses.dataclass(frozen=True)
class Region:
    """A box of the image: [start, stop) on each spatial axis, (row, column)
    order, and its mean SSIM."""

    start: tuple
    stop: tuple
    mean: float


@dataclasses.dataclass(frozen=True)
class SSIMReport:
    """The result of :func:`report`. ``str(r)`` is a readable summary."""

    mean: float
    min: float
    argmin: tuple
    percentiles: dict
    fraction_below: dict
    worst: list
    band: str
    caveat: str
    ssim_map: np.ndarray = dataclasses.field(repr=False, compare=False)

    def to_dict(self):
        """Plain Python types (for JSON): everything but the map. Positions as
        in the text: argmin and each region's start and stop are (row, column)
        lists, stop exclusive (a Python slice)."""
        return {
            "mean": self.mean, "min": self.min, "argmin": list(self.argmin),
            "percentiles": {str(k): v for k, v in self.percentiles.items()},
            "fraction_below": {str(k): v for k, v in self.fraction_below.items()},
            "worst": [{"start": list(r.start), "stop": list(r.stop), "mean": r.mean}
                      for r in self.worst],
            "band": self.band, "caveat": self.caveat,
        }

    def heatmap(self, im1=None, im2=None, max_side=1024):
        """The map as an (H, W, 3) uint8 picture: the inputs if given ((H, W) or
        (H, W, C), channels last), the map in viridis (dark is low SSIM) with
        the worst regions boxed in red and numbered as in the text, a colour
        bar of fixed scale -1 to 1, the mean and the lowest local SSIM written
        under them. Images larger than
        `max_side` are reduced (the map by block minimum). Volumes: the plane
        through the lowest local SSIM."""
        return _heatmap.render(self, im1, im2, max_side)

    def save_heatmap(self, path, im1=None, im2=None, max_side=1024):
        """Write :meth:`heatmap` to `path` as a PNG (no plotting library needed)."""
        _heatmap.save(path, self, im1, im2, max_side)

    def __str__(self):
        lines = [
            f"mean SSIM:          {self.mean:.4f} ({self.band})",
            f"lowest local SSIM:  {self.min:.4f} at {_positions.point(self.argmin)}",
            "percentiles:        " + ", ".join(f"{p}%: {v:.4f}" for p, v in self.percentiles.items()),
            "below threshold:    " + ", ".join(f"< {t}: {100 * f:.1f}%"
                                               for t, f in self.fraction_below.items()),
        ]
        for i, r in enumerate(self.worst, 1):
            lines.append(f"worst region {i}:     {_positions.ranges(r.start, r.stop)}, "
                         f"mean SSIM {r.mean:.4f}")
        lines.append(f"note: {self.caveat}")
        return "\n".join(lines)


def report(im1, im2, *, thresholds=(0.5, 0.7, 0.9), percentiles=(1, 5, 50), k=3, box=None,
           **options):
    """Mean SSIM with its local picture: where do two images differ?

    Parameters
    ----------
    im1, im2 : array_like
        As :func:`ssimfast.structural_similarity`; with `channel_axis`, the
        local statistics use the mean of the channels' maps.
    thresholds : sequence of float
        Report the fraction of pixels whose local SSIM is below each.
    percentiles : sequence of float
        Percentiles of the local SSIM to report.
    k : int
        Number of worst regions: non-overlapping boxes of the lowest mean SSIM,
        worst first (fewer if the image holds fewer).
    box : int or None
        Side of those boxes; by default a quarter of the smallest side of the
        interior, at least the window.
    **options
        Any option of structural_similarity except `full` and `gradient`.

    Returns
    -------
    SSIMReport
        mean, min and argmin (index into the image), percentiles and
        fraction_below (dicts), worst (list of Region), band and caveat, and
        ssim_map (the full map, channels averaged).

    Notes
    -----
    One convention for positions in the text (``str(report)``), in
    ``to_dict()`` (JSON), in the heatmap and in the command's size line:
    NumPy's (row, column) order ((plane, row, column) for volumes) and
    half-open ranges, written as Python slices. "worst region 1: rows
    96:144, cols 160:208" is ``ssim_map[96:144, 160:208]``, JSON's
    ``"start": [96, 160], "stop": [144, 208]``, and box 1 in the picture;
    "lowest local SSIM: ... at row 120, col 170" is ``argmin == (120, 170)``;
    sizes read "256 rows x 512 columns".
    """
    for name in ("full", "gradient"):
        if name in options:
            raise TypeError(f"report() computes the map itself; do not pass {name}=")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"k must be a non-negative integer, got {k!r}")
    named, kwargs = split_options(options)
    plan, im1, im2 = resolve(im1, im2, full=True, kwargs=kwargs, **named)
    mean, smap = run(plan, im1, im2)
    smap = np.asarray(smap, dtype=np.float64)
    if plan.setup.channel_axis is not None:
        smap = smap.mean(axis=plan.setup.channel_axis)
    win_size = plan.setup.options.win_size
    # The border the mean leaves out (a preset's map holds the inner windows only).
    crop = 0 if plan.row.valid_map else plan.setup.params.crop
    inner = tuple(slice(crop, n - crop) for n in smap.shape)
    values = smap[inner]

    flat = int(np.argmin(values))
    argmin = tuple(int(i) + crop for i in np.unravel_index(flat, values.shape))
    if box is None:
        box = max(win_size, min(values.shape) // 4)
    if isinstance(box, bool) or not isinstance(box, (int, np.integer)) or box < 1:
        raise ValueError(f"box must be a positive integer, got {box!r}")
    box = min(int(box), min(values.shape))
    worst = [Region(tuple(s + crop for s in start), tuple(s + crop + box for s in start), m)
             for start, m in _worst_boxes(values, box, k)]
    return SSIMReport(
        mean=float(mean),
        min=float(values.flat[flat]),
        argmin=argmin,
        percentiles={p: float(v) for p, v in zip(percentiles, np.percentile(values, percentiles))},
        fraction_below={t: float(np.mean(values < t)) for t in thresholds},
        worst=worst,
        band=band(float(mean)),
        caveat=CAVEAT,
        ssim_map=smap,
    )


def _box_means(values, box):
    """Mean of every box x ... x box window of `values` (valid positions), by
    running sums along each axis."""
    out = values
    for axis in range(values.ndim):
        c = np.cumsum(out, axis=axis)
        c = np.concatenate([np.zeros_like(c.take([0], axis=axis)), c], axis=axis)
        n = c.shape[axis]
        out = c.take(range(box, n), axis=axis) - c.take(range(0, n - box), axis=axis)
    return out / box ** values.ndim


def _worst_boxes(values, box, k):
    """Up to k (start index, mean) of non-overlapping boxes, lowest mean first."""
    means = _box_means(values, box)
    found = []
    for _ in range(k):
        if not np.isfinite(means).any():
            break
        lowest = np.nanmin(np.where(np.isfinite(means), means, np.nan))
        # Many boxes can tie (a small defect in a region of SSIM 1 lies inside
        # all of them): take the middle one of the ties, which centres the defect.
        ties = np.argwhere(means <= lowest + 1e-12)
        middle = ties.mean(axis=0)
        start = tuple(ties[np.argmin(((ties - middle) ** 2).sum(axis=1))])
        found.append((tuple(int(s) for s in start), float(means[start])))
        # Boxes overlapping this one start within box - 1 of it on every axis.
        block = tuple(slice(max(0, s - box + 1), s + box) for s in start)
        means[block] = np.inf
    return found
