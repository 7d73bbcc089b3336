"""The search over a stored study: the loop of trials (``loop``), worker processes on one study
(``workers``), Optuna storage and the study's identity (``storage``), counting trials and the
best one (``trials``) and the dashboard's study note (``note``).
"""
