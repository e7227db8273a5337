"""Core library of the specialization/generalization trade-off benchmark."""
