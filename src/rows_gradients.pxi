# Row functions of the "gradients" part (kernels listed in kernels_gradients.py); included by _kernels.pyx.tp.
