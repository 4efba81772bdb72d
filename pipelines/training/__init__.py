"""Training: ``fit`` on one machine or several (multi-worker loop, cluster, local launcher), the run
folder and its plots, pretrained encoder weights. May import ``common``, ``models`` and
``pipelines.evaluation``; never the entry modules."""
