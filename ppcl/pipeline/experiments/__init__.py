"""Each notebook's experiments, as functions of the run's trained models and data: the partial
re-ID benchmarks of notebook 03 (:mod:`.benchmarks`), the ablations of notebook 04
(:mod:`.ablations`), the face extension of notebook 05 (:mod:`.faces`). The methods they compare
are listed once, in :mod:`.methods`."""
