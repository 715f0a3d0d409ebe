# Types of ssimfast.dask (see __init__.pyi; tests/test_stubs.py checks these
# signatures against the runtime's too). dask is optional: the arrays are typed
# loosely so that the stub does not need dask's own types installed.
import os
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

def structural_similarity(
    im1: Any, im2: Any, *, win_size: int | None = None, data_range: float | None = None,
    channel_axis: int | None = None, gaussian_weights: bool = False, workers: int | None = 1,
    **kwargs: Any,
) -> Any: ...
def ssim_files(
    pairs: Iterable[tuple[str | os.PathLike[str], str | os.PathLike[str]]], *,
    client: Any = None, reader: Callable[[Any], Any] | None = None, **options: Any,
) -> NDArray[np.float64]: ...
