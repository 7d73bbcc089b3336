"""The search over a stored study: the loop of trials (``loop``), worker processes on one study
(``workers``), a Slurm job array of workers (``launch``), Optuna storage and the study's
identity (``storage``), a storage that outlives a lost database (``resilient``), the trials a
new study starts with, the strong default and the reference (``enqueue``), counting trials and
the best one (``trials``), whether a budgeted search starts another trial (``deadline``), that
deadline stored on the study for every worker (``share``), a trial that ran out of memory
retried at half the batch (``retry``) and the dashboard's study note (``note``).
"""
