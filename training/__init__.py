"""Offline training pipeline: one stage a module, one `creditscore` command a stage."""
