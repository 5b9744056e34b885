"""UI building blocks shared by every page: heatmaps, log-scale profiles, presets, URL state, notices, training."""
