"""The protocol's stages: rubric audit, self-DPO, exact-match evaluation."""
