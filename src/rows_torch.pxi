# Row functions of the "torch" part (kernels listed in kernels_torch.py); included by _kernels.pyx.tp.
