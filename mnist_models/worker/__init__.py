"""The worker side: the process that trains one run and writes everything it learns into the run's folder.

`entry` (the process's main), `training` (build and fit), `models` (the Keras network), `callback` (the Keras
callback), `reporter` (publishes progress into the run folder) and `insight_recorder` (weights and the digit wall
at epoch ends). This is the only package that imports Keras at module level (prediction aside); importing the
package itself imports nothing.
"""
