# Kernels of the "metrics" part: (kernel name, row function, dense?, vector row loop in fl_kernels.h or None),
# the layout of KERNELS in _kernels.pyx.tp. Their row functions live in rows_metrics.pxi.
KERNELS = [
    # Overlap losses, one value per row (a row is one sample's positions, moved last by fastloss/overlap.py).
    ("dice", "_row_dice", True, None),
    ("tversky", "_row_tversky", True, None),
    # Whole-batch overlap: a weighted linear combination of Σy, Σp̃ and Σy·p̃ per row, summed by the engine;
    # then the batch value, carried by every weight entry, is reduced like any row loss.
    ("overlap_sum", "_row_overlap_sum", True, "overlap_sum"),  # K = 1 rows for (N, H, W, 1): chunks of rows
    ("overlap_constant", "_row_overlap_constant", True, None),
    # Segmentation metrics per row (soft or thresholded).
    ("iou", "_row_iou", True, None),
    ("dice_coefficient", "_row_dice_coefficient", True, None),
    # Accuracies: Keras 3 metric functions, one value per row.
    ("binary_accuracy", "_row_binary_accuracy", True, None),
    ("categorical_accuracy", "_row_categorical_accuracy", True, None),
    ("sparse_categorical_accuracy", "_row_sparse_categorical_accuracy", False, None),
    ("top_k_categorical_accuracy", "_row_top_k_categorical_accuracy", True, None),
    ("sparse_top_k_categorical_accuracy", "_row_sparse_top_k_categorical_accuracy", False, None),
]
