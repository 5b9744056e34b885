"""Reproductions of published experiments, built on the engine (pure JAX, no UI imports).

``glorot2010``: Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward neural networks"
(seed 004, FACTS.md §1): deep MLPs on Shapeset-3x2, sigmoid / tanh / softsign × standard / normalized init.
"""
