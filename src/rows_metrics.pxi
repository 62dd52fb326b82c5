# Row functions of the "metrics" part (kernels listed in kernels_metrics.py); included by _kernels.pyx.tp.
