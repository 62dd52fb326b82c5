# Kernels of the "gradients" part: (kernel name, row function, dense?, vector row loop in fl_kernels.h or None),
# the layout of KERNELS in _kernels.pyx.tp. Their row functions live in rows_gradients.pxi.
KERNELS = []  # the gradient kernels write a gradient array too: rows_gradients.pxi.tp has their drivers
