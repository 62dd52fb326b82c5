# Type stub for the compiled module built from src/_kernels.pyx.tp.
from typing import Any, Callable

import numpy as np
from numpy.typing import NDArray

ERR_NONE: int
ERR_LABEL_RANGE: int
ERR_LABEL_NOT_INTEGRAL: int
ERR_CLASS_WEIGHT_MISSING: int
ERR_CLASS_WEIGHT_RANGE: int
ERR_PROBABILITY: int
ERR_NEGATIVE_PREDICTION: int
ERR_INVALID_TARGET: int

_KernelResult = tuple[float, float, int, int, int, int, int]

PARAM_FIELDS: tuple[str, ...]
KERNEL_INDEX: dict[str, int]

def set_clip_bounds(float32_bounds: tuple[float, float], float64_bounds: tuple[float, float]) -> None: ...
def row_layout(pred_shape: tuple[int, ...], elementwise: bool) -> tuple[tuple[int, ...], int]: ...
def smoothed_target(smoothing: float, classes: int, K: int) -> tuple[float, float]: ...
def direct_call_totals(kernel: int, y_true: Any, y_pred: Any, sample_weight: Any, mask: Any, ignore: Any,
                       elementwise: bool, smoothing: float, smoothing_classes: int, delta: float,
                       count_nonzero: bool, block_elements: int, threads_for: Callable[[int, int | None], int],
                       n_threads: int | None) -> tuple[Any, ...] | None: ...

def _dense(y_true: NDArray[np.floating], y_pred: NDArray[np.floating], out: NDArray[np.floating] | None,
           sample_weight: NDArray[np.float64] | None, sw_inner: int, class_weight: NDArray[np.float64] | None,
           mask: NDArray[np.uint8] | None, mask_inner: int, params: NDArray[np.float64],
           columns: NDArray[np.float64] | None, block_rows: int, n_threads: int) -> _KernelResult: ...
def _sparse(y_true: NDArray, y_pred: NDArray[np.floating], out: NDArray[np.floating] | None,
            sample_weight: NDArray[np.float64] | None, sw_inner: int, class_weight: NDArray[np.float64] | None,
            mask: NDArray[np.uint8] | None, mask_inner: int, ignore: int | None, params: NDArray[np.float64],
            columns: NDArray[np.float64] | None, block_rows: int, n_threads: int) -> _KernelResult: ...

# Every kernel named in KERNELS (src/_kernels.pyx.tp and src/kernels_<part>.py) is a _dense or _sparse driver.
def __getattr__(name: str) -> Any: ...

bce_probabilities = _dense
bce_logits = _dense
cce_probabilities = _dense
cce_logits = _dense
squared_error = _dense
absolute_error = _dense
scce_probabilities = _sparse
scce_logits = _sparse

def openmp_enabled() -> bool: ...
def max_threads() -> int: ...
def num_procs() -> int: ...
def last_parallel_region() -> tuple[float, bool]: ...
def build_flags() -> str: ...
def compiler() -> str: ...
