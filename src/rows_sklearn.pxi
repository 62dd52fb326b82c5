# Row functions of the "sklearn" part (kernels listed in kernels_sklearn.py); included by _kernels.pyx.tp.
