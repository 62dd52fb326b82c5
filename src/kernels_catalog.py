# Kernels of the "catalog" part: (kernel name, row function, dense?, vector row loop in fl_kernels.h or None),
# the layout of KERNELS in _kernels.pyx.tp. Their row functions live in rows_catalog.pxi.
KERNELS = [
    ("binary_focal_probabilities", "_row_binary_focal_probabilities", True, "binary_focal_probabilities"),
    ("binary_focal_logits", "_row_binary_focal_logits", True, "binary_focal_logits"),
    ("categorical_focal_probabilities", "_row_categorical_focal_probabilities", True,
     "rows_categorical_focal_probabilities"),
    ("categorical_focal_logits", "_row_categorical_focal_logits", True,
     "rows_categorical_focal_logits"),
    ("generalized_cross_entropy", "_row_generalized_cross_entropy", False, None),
    ("bce_multilabel_probabilities", "_row_bce_multilabel_probabilities", True, None),
    ("bce_multilabel_logits", "_row_bce_multilabel_logits", True, None),
]
