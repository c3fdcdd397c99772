"""Library layer of the tiny LM example: pure functions from concrete configs to concrete results.

The pipeline is ``corpus.build_corpus`` -> ``tokenize.tokenize`` -> ``train.train_model`` ->
``evaluate.evaluate`` -> ``report.write_report``. Each stage reads its inputs and writes its outputs under
paths given in its config, through fsspec, so it runs the same on local paths, ``memory://`` and ``gs://``.

This package does not know about steps, versions or caching, and never imports the executor: the wiring
layer (``experiments/steps``) adds those. It does not re-export the stage functions; import them from their
modules.
"""
