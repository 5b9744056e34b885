"""Reproductions of published experiments, built on the engine (pure JAX, no UI imports).

``glorot2010``: Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward neural networks"
(AISTATS 2010, PMLR 9:249–256): deep MLPs on Shapeset-3x2, sigmoid / tanh / softsign × standard / normalized init.
"""
