"""The SSIM map as a picture: where two images differ.

`render` draws, left to right: the two inputs (if given), the local SSIM map in
a perceptually uniform colour map (viridis: dark is low SSIM, yellow is 1), and
a colour bar with its scale. The report's worst regions are boxed in red on
every panel. Written with NumPy only, so `python -m ssimfast` needs no plotting
library; `_png.encode` (zlib only) writes the file.

Large images are reduced to at most `max_side` pixels per side: the map by the
minimum of each block, so that a small defect stays visible; the inputs by the
mean.
"""
import math

import numpy as np

from ssimfast import _png

__all__ = ["render", "save"]

# viridis at 0, 1/8, ..., 1
_VIRIDIS = np.array([
    (68, 1, 84), (71, 45, 123), (59, 82, 139), (44, 114, 142), (33, 145, 140),
    (40, 174, 128), (94, 201, 98), (173, 220, 48), (253, 231, 37)], np.float64)
BOX = np.array([255, 0, 0], np.uint8)  # not in viridis, and not gray
_BACKGROUND = 255
_GAP = 8

# 5x7 glyphs for the colour bar's labels.
_GLYPHS = {
    "0": (" ### ", "#   #", "#  ##", "# # #", "##  #", "#   #", " ### "),
    "1": ("  #  ", " ##  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### "),
    "2": (" ### ", "#   #", "    #", "   # ", "  #  ", " #   ", "#####"),
    "3": ("#####", "   # ", "  #  ", "   # ", "    #", "#   #", " ### "),
    "4": ("   # ", "  ## ", " # # ", "#  # ", "#####", "   # ", "   # "),
    "5": ("#####", "#    ", "#### ", "    #", "    #", "#   #", " ### "),
    "6": ("  ## ", " #   ", "#    ", "#### ", "#   #", "#   #", " ### "),
    "7": ("#####", "    #", "   # ", "  #  ", " #   ", " #   ", " #   "),
    "8": (" ### ", "#   #", "#   #", " ### ", "#   #", "#   #", " ### "),
    "9": (" ### ", "#   #", "#   #", " ####", "    #", "   # ", " ##  "),
    ".": ("     ", "     ", "     ", "     ", "     ", " ##  ", " ##  "),
    "-": ("     ", "     ", "     ", "#####", "     ", "     ", "     "),
}


def save(path, report, im1=None, im2=None, max_side=1024):
    """Write `render(report, im1, im2, max_side)` to `path` as a PNG."""
    with open(path, "wb") as f:
        f.write(_png.encode(render(report, im1, im2, max_side)))


def render(report, im1=None, im2=None, max_side=1024):
    """An (H, W, 3) uint8 picture of `report`'s map (see the module docstring).

    im1, im2: the compared images, (H, W) gray or (H, W, C) colour with the
    channels last, shown beside the map if given. For volumes (maps of more than
    two axes) the picture is the plane through the lowest local SSIM.
    """
    smap = np.asarray(report.ssim_map, dtype=np.float64)
    lead = tuple(report.argmin[:-2])  # the plane through the minimum
    plane = smap[lead]
    if plane.ndim != 2:
        raise ValueError(f"a heatmap needs an image of at least 2 axes; the map has shape {smap.shape}")
    if isinstance(max_side, bool) or not isinstance(max_side, (int, np.integer)) or max_side < 1:
        raise ValueError(f"max_side must be a positive integer, got {max_side!r}")
    step = max(1, math.ceil(max(plane.shape) / max_side))
    lo = min(0.0, math.floor(float(np.nanmin(plane)) * 10) / 10) if np.isfinite(plane).any() else 0.0
    panels = []
    images = [im for im in (im1, im2) if im is not None]
    if images:
        panels += _gray_or_colour(images, plane.shape, lead, step)
    panels.append(_colour(_reduce(plane, step, "min"), lo, 1.0))
    boxes = [(tuple(s // step for s in r.start[-2:]), tuple(-(-e // step) for e in r.stop[-2:]))
             for r in report.worst
             if all(a <= i < b for i, a, b in zip(lead, r.start[:-2], r.stop[:-2]))]
    for panel in panels:
        for start, stop in boxes:
            _draw_box(panel, start, stop)
    height = panels[0].shape[0]
    scale = 2 if height >= 160 else 1
    panels.append(_colour_bar(height, lo, scale))
    return _side_by_side(panels)


def _reduce(a, step, how):
    """The minimum or the mean ('min', 'mean') of each step x step block of `a`."""
    if step == 1:
        return a
    h, w = a.shape[:2]
    H, W = -(-h // step), -(-w // step)
    pad = [(0, H * step - h), (0, W * step - w)] + [(0, 0)] * (a.ndim - 2)
    padded = np.pad(a, pad, mode="edge")
    blocks = padded.reshape(H, step, W, step, *a.shape[2:])
    if how == "min":
        return blocks.min(axis=(1, 3))
    return blocks.mean(axis=(1, 3))


def _colour(values, lo, hi):
    """values in [lo, hi] -> viridis RGB; NaN is shown white."""
    t = np.clip((values - lo) / (hi - lo), 0.0, 1.0) * (len(_VIRIDIS) - 1)
    t = np.where(np.isfinite(t), t, 0.0)
    i = np.minimum(t.astype(np.intp), len(_VIRIDIS) - 2)
    f = (t - i)[..., None]
    rgb = _VIRIDIS[i] * (1 - f) + _VIRIDIS[i + 1] * f
    rgb[~np.isfinite(values)] = 255
    return np.round(rgb).astype(np.uint8)


def _gray_or_colour(images, shape, lead, step):
    """The inputs as RGB panels, on one common intensity scale."""
    planes = []
    for im in images:
        im = np.asarray(im)
        im = im[lead] if lead else im
        if im.shape[:2] != shape or im.ndim not in (2, 3):
            raise ValueError(f"heatmap inputs must be (H, W) or (H, W, C) images of the map's "
                             f"size {shape}, got shape {np.shape(im)}")
        planes.append(im)
    if all(p.dtype == np.uint8 for p in planes):
        lo, hi = 0.0, 255.0
    else:
        lo = min(float(np.nanmin(p)) for p in planes)
        hi = max(float(np.nanmax(p)) for p in planes)
        hi = hi if hi > lo else lo + 1.0
    out = []
    for p in planes:
        p = (p.astype(np.float64) - lo) * (255.0 / (hi - lo))
        p = _reduce(p, step, "mean")
        if p.ndim == 2:
            p = np.repeat(p[..., None], 3, axis=2)
        elif p.shape[2] == 1:
            p = np.repeat(p, 3, axis=2)
        else:
            p = p[..., :3]
        out.append(np.round(np.clip(np.nan_to_num(p), 0, 255)).astype(np.uint8))
    return out


def _draw_box(panel, start, stop, width=2):
    """A red rectangle outline, inside [start, stop) and clipped to the panel."""
    h, w = panel.shape[:2]
    r0, c0 = max(0, start[0]), max(0, start[1])
    r1, c1 = min(h, stop[0]), min(w, stop[1])
    if r1 <= r0 or c1 <= c0:
        return
    t = min(width, r1 - r0, c1 - c0)
    panel[r0 : r0 + t, c0:c1] = BOX
    panel[r1 - t : r1, c0:c1] = BOX
    panel[r0:r1, c0 : c0 + t] = BOX
    panel[r0:r1, c1 - t : c1] = BOX


def _colour_bar(height, lo, scale):
    """A vertical bar from lo (bottom) to 1 (top), labelled at both ends and the middle."""
    bar_w = 10 * scale
    text = [_text(_label(v), scale) for v in (1.0, (lo + 1.0) / 2, lo)]
    text_w = max(t.shape[1] for t in text)
    out = np.full((height, bar_w + 3 * scale + text_w, 3), _BACKGROUND, np.uint8)
    values = np.linspace(1.0, lo, height)[:, None]
    out[:, :bar_w] = _colour(np.repeat(values, bar_w, axis=1), lo, 1.0)
    for t, frac in zip(text, (0.0, 0.5, 1.0)):
        row = int(round(frac * (height - t.shape[0])))
        row = min(max(row, 0), max(0, height - t.shape[0]))
        h = min(t.shape[0], height - row)
        out[row : row + h, bar_w + 3 * scale : bar_w + 3 * scale + t.shape[1]][t[:h]] = 0
    return out


def _label(v):
    """0.5, 0.45, 1.0, -0.3: at most two decimals, at least one."""
    s = f"{v:.2f}".rstrip("0")
    return s + "0" if s.endswith(".") else s


def _text(s, scale):
    """A boolean mask of `s` in the 5x7 font, one column between glyphs."""
    glyphs = [np.array([[c == "#" for c in line] for line in _GLYPHS[ch]]) for ch in s]
    gap = np.zeros((7, 1), bool)
    mask = np.concatenate([x for g in glyphs for x in (g, gap)][:-1], axis=1)
    return np.kron(mask, np.ones((scale, scale), bool)).astype(bool)


def _side_by_side(panels):
    height = max(p.shape[0] for p in panels)
    width = sum(p.shape[1] for p in panels) + _GAP * (len(panels) - 1)
    out = np.full((height, width, 3), _BACKGROUND, np.uint8)
    col = 0
    for p in panels:
        out[: p.shape[0], col : col + p.shape[1]] = p
        col += p.shape[1] + _GAP
    return out
