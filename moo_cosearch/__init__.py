"""moo-cosearch: joint neural-architecture + hardware-accelerator search on Optuna and pymoo."""
