"""Fit the whole job to a time budget: the data's profile (``profile``), the machine's measured
rates (``measure``), the plan itself, a pure function of both (``planner``), a budgeted run's
clock and the final stage's re-plan (``budgeted``), and the plan as text (``table``).
"""
