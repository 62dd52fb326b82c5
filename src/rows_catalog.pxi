# Row functions of the "catalog" part (kernels listed in kernels_catalog.py); included by _kernels.pyx.tp.
