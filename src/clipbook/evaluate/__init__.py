"""Evaluation: accuracy, statistics with confidence intervals, spectra, robustness measures."""
