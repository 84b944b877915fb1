"""Pure-Python cost engine of the Hyb-HANAS platform. Never imports Django.

Modules: ``calibration`` (normalised calibration snapshots), ``quantum`` (the paper's analytical quantum cost
model plus wall-clock time), ``classical`` (FLOPs to seconds), ``hqnn`` (genomes, simulator, training cost).
"""
