"""Fit the whole job to a time budget: the data's profile (``profile``), the machine's measured
rates (``measure``; as data, with what fits on a GPU, ``rates``) and their check against a short
run now (``check``), the cost model (``costs``), every tuned number with its source
(``constants``), what the planner reads of the config (``request``), the plan itself, a pure
function of these that decides the final stage first and whether a search can pay (``planner``),
sizing a search to the seconds it has (``sizing``), the rule by which a final stage with no
search fills its share with a length and epochs (``fill``), its record with each key's reason
(``assemble``), what it decided and why (``decision``), a budgeted run's plan and clock
(``budgeted``), re-planning as the run goes: the search's end and the final stage's length and
epochs, timed at its own batch (``replan``), and the plan as text (``table``).
"""
