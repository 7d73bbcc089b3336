"""What people read: the final report (``markdown``), its pictures (``plots``), the trials
table of ``hpo trials`` (``trials_table``), per-class figures that stay readable with many
classes (``classes``), a budgeted run's outcome and findings (``outcome``) and optuna-dashboard
with the final stage's files (``dashboard``).
"""
