"""The final stage: the best params with provenance (``best_params``), the retrain on all of
train and the one test (``retrain``), the baselines on the same test split (``baselines``),
the test statistics (``scoring``), the saved model's record (``record``) and predicting with a
saved model (``predict``).
"""
