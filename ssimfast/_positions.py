"""How positions and sizes are written: one convention for the text report,
`SSIMReport.to_dict()` (JSON), the heatmap and the command's size line.

NumPy's order, (row, column), and for volumes (plane, row, column); a region
is a half-open range on each axis, written as a Python slice: "rows 96:144,
cols 160:208" holds rows 96 to 143 and columns 160 to 207, the numbers JSON
gives as "start": [96, 160], "stop": [144, 208]. A size is "256 rows x 512
columns" (NumPy's shape (256, 512)).
"""

__all__ = ["point", "ranges", "size"]


def _names(ndim):
    """(singular, plural) names of the axes of an ndim-axis image."""
    last = [("row", "rows"), ("col", "cols")][-ndim:] if ndim else []
    if ndim < 3:
        return last
    lead = [(f"axis {i}", f"axis {i}") for i in range(ndim - 3)] + [("plane", "planes")]
    return lead + last


def point(index):
    """'row 120, col 170' (a pixel; (plane, row, col) for volumes)."""
    return ", ".join(f"{name} {i}" for (name, _), i in zip(_names(len(index)), index))


def ranges(start, stop):
    """'rows 96:144, cols 160:208' (half-open, as Python slices)."""
    return ", ".join(f"{names} {a}:{b}" for (_, names), a, b in
                     zip(_names(len(start)), start, stop))


def size(shape):
    """'256 rows x 512 columns' ('9 planes x ...' for volumes)."""
    names = [p for _, p in _names(len(shape))]
    names = names[:-1] + ["columns"] if names else names
    return " x ".join(f"{n} {name}" for n, name in zip(shape, names))
