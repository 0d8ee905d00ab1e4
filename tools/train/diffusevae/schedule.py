"""The forward-process schedule shared by training and the Python reference samplers (ARCHITECTURE §1)."""
import numpy as np


def linear_betas(T=1000, beta_start=1e-4, beta_end=0.02):
    return np.linspace(beta_start, beta_end, T, dtype=np.float64)


def alpha_bars(betas):
    return np.cumprod(1.0 - betas)
