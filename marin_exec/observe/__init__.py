"""What a person sees of a run: readable failures, why a step runs, the plan as a graph, live progress, summaries.

Each module here is usable on its own and exports its names itself; this package exports nothing.
"""
