"""Step one: place a scenario in the matrix and size candidate models for it (`lmstack plan`).

config.py (the plan section), hardware.py (devices), matrix.py (quadrant and reasons),
estimate.py (formulas), candidates.py (model shapes and their numbers), planner.py (make_plan),
project.py (the generated project.yaml), scenario.py (reading a scenario file), render.py (output).
Nothing is imported here: the project schema imports `lmstack.plan.config`, and the planner
imports the schema.
"""
