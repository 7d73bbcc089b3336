"""Training one model: the Trainer every trial and the final retrain run (``trainer``), its
``TrainingArguments`` (``arguments``) and where a key's value comes from: searched, fixed or
Trainer's default (``settings``), the backbone and tokenizer (``model``), what a trial
maximizes (``objective``), length-bucketed batches (``batching``), its callbacks
(``callbacks``), a final stage's epochs and schedule fitted to its deadline by its timed steps
(``refit``), a trial's typed record in storage (``trial_record``), why a trial failed
(``failure``), CPU speed (``kernels``, ``dropout``), memory between trials (``memory``),
experiment trackers (``tracking``) and logits of a split (``inference``).

Knows nothing of studies or storage: the search hands it a guard to call before each trial.
"""
