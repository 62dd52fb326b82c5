# Kernels of the "sklearn" part: (kernel name, row function, dense?, vector row loop in fl_kernels.h or None),
# the layout of KERNELS in _kernels.pyx.tp. Their row functions live in rows_sklearn.pxi; fastloss/sklearn.py
# calls them. "labels" kernels read one column index per row; "rows" kernels read a dense target row, where a
# one-column row is the binary case (y in {0, 1}, p = P(positive), the columns [1 - p, p] in the input dtype).
KERNELS = [
    ("sklearn_log_loss_labels", "_row_sklearn_log_loss_labels", False, None),
    ("sklearn_log_loss_rows", "_row_sklearn_log_loss_rows", True, None),
    ("sklearn_brier_labels", "_row_sklearn_brier_labels", False, None),
    ("sklearn_brier_rows", "_row_sklearn_brier_rows", True, None),
    ("sklearn_binary_hinge", "_row_sklearn_binary_hinge", True, None),
    ("sklearn_multiclass_hinge", "_row_sklearn_multiclass_hinge", False, None),
    ("sklearn_squared_error", "_row_sklearn_squared_error", True, None),
    ("sklearn_absolute_error", "_row_sklearn_absolute_error", True, None),
    ("sklearn_exact_match", "_row_sklearn_exact_match", True, None),
]
