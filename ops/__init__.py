"""Operations tooling run against a deployed or local API (the smoke test)."""
