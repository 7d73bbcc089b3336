"""The final stage: the best params with provenance (``best_params``), the retrain and the one
test (``retrain``), the baselines on the same test split (``baselines``), the TF-IDF model
tuned on validation and saved as plain data (``classical``), the choice of the model handed
over, on validation (``choice``), and handing it over (``ship``), the test statistics and the
paired test's verdict (``scoring``), every model's test figures and the final stage's
``metrics.json``, typed (``metrics``), the saved model's record (``record``), its model card
(``card``) and predicting with a saved model (``predict``).
"""
