# Kernels of the "torch" part: (kernel name, row function, dense?, vector row loop in fl_kernels.h or None),
# the layout of KERNELS in _kernels.pyx.tp. Their row functions live in rows_torch.pxi; fastloss/torch.py calls
# them (torch.nn.functional's formulas, where no Keras kernel computes the same numbers).
KERNELS = [
    # class-index targets (sparse)
    ("torch_nll", "_row_torch_nll", False, None),
    ("torch_ce_smoothed", "_row_torch_ce_smoothed", False, None),
    ("torch_label_weight", "_row_torch_label_weight", False, None),
    # dense rows
    ("torch_ce_soft_weighted", "_row_torch_ce_soft_weighted", True, None),
    ("torch_bce", "_row_torch_bce", True, None),
    ("torch_bce_logits", "_row_torch_bce_logits", True, None),
    ("torch_bce_logits_pos_weight", "_row_torch_bce_logits_pos_weight", True, None),
    ("torch_smooth_l1", "_row_torch_smooth_l1", True, None),
    ("torch_huber", "_row_torch_huber", True, None),
    ("torch_kl_div", "_row_torch_kl_div", True, None),
    ("torch_poisson_nll", "_row_torch_poisson_nll", True, None),
    ("torch_hinge_embedding", "_row_torch_hinge_embedding", True, None),
    ("torch_soft_margin", "_row_torch_soft_margin", True, None),
    ("torch_multilabel_soft_margin", "_row_torch_multilabel_soft_margin", True, None),
    ("torch_sigmoid_focal", "_row_torch_sigmoid_focal", True, None),
]
