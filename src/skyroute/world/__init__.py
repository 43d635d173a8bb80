"""The world model: catalog data, traces, placement space, simulator, policies, environments."""
