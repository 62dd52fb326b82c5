# Kernels of the "sklearn" part: (kernel name, row function, dense?, vector row loop in fl_kernels.h or None),
# the layout of KERNELS in _kernels.pyx.tp. Their row functions live in rows_sklearn.pxi.
KERNELS = []
