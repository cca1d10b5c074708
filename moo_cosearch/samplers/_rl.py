"""RL controllers (reinforce, ppo): to be written."""
