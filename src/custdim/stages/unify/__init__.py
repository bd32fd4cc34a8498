"""Unify: map -> normalize + match -> cluster -> merge (ids, Customer, AlternateKey, MatchPairs)."""
