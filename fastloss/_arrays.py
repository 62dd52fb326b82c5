"""Reading caller data as NumPy arrays without copying or modifying it."""

import numpy as np


def _to_numpy(x, name: str) -> np.ndarray:
    if type(x).__module__.split(".")[0] == "torch":
        # A CPU tensor shares its memory with the array; detach() lets tensors that require grad through.
        if getattr(x, "device", None) is not None and str(x.device) != "cpu":
            raise TypeError(f"{name}: only CPU tensors are supported, got a tensor on {x.device}")
        x = x.detach().numpy()
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name}: cannot be read as an array ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected a real numeric array, got dtype {arr.dtype}")
    return arr


def _float_dtype(arr: np.ndarray):
    """float32 stays float32 (float16 widens to it); float64, integers and booleans compute in float64."""
    if arr.dtype.kind == "f" and arr.dtype.itemsize <= 4:
        return np.float32
    return np.float64
