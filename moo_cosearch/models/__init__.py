"""torch ``nn.Module`` builders for every network family (to be written: issue 15)."""
