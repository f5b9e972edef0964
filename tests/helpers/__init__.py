"""What test modules share besides fixtures and factories: the database's cleaning and
snapshots, the workspace's HTML helpers. Test modules import from here, never from each other."""
