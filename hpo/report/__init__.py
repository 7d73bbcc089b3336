"""What people read: the final report (``markdown``), its pictures (``plots``), the trials
table of ``hpo trials`` (``trials_table``) and optuna-dashboard with the final stage's files
(``dashboard``).
"""
