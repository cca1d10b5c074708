"""pymoo algorithms as Optuna samplers: to be written."""
