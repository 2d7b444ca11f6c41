"""The pipeline: what runs the method, above it.

The method (:mod:`ppcl.geometry`, :mod:`ppcl.models`, :mod:`ppcl.losses`, :mod:`ppcl.algorithm`,
:mod:`ppcl.train`, :mod:`ppcl.data`, :mod:`ppcl.evaluate`, :mod:`ppcl.viz`) never imports this layer.
Here:

* :mod:`~ppcl.pipeline.profiles` (+ ``profiles.toml``) — the schema of a run's parameters and the
  three profiles' values;
* :mod:`~ppcl.pipeline.run` — one setup for every notebook: the profile, the run folder, the data,
  the device;
* :mod:`~ppcl.pipeline.store` — the model store: every trained model keyed by what determines it;
* :mod:`~ppcl.pipeline.training` — what each variant trains, on which GLRec, selected on validation;
* :mod:`~ppcl.pipeline.jobs` — independent trainings side by side on a CPU;
* :mod:`~ppcl.pipeline.experiments` — each notebook's experiments over the trained models;
* :mod:`~ppcl.pipeline.reproduce`, :mod:`~ppcl.pipeline.report` — the batch run and its report;
* :mod:`~ppcl.pipeline.verdicts` — the primary comparisons of a run, read;
* :mod:`~ppcl.pipeline.devicecheck`, :mod:`~ppcl.pipeline.distributed` — the GPU path.
"""
