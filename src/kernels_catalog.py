# Kernels of the "catalog" part: (kernel name, row function, dense?, vector row loop in fl_kernels.h or None),
# the layout of KERNELS in _kernels.pyx.tp. Their row functions live in rows_catalog.pxi.
KERNELS = []
