"""`svimaged migrate`: importing what StreamVault left behind. `streamvault` finds its image
files, `idmap` maps its ids to Twitch ids, `importer` validates and stores them in the cache."""
