"""Compile a traced graph into ``StepSpec`` objects: identity (version, hash, output path) and the wrapper stack."""
