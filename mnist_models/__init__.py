"""Build, train, store and query MNIST networks, following "TensorFlow without a PhD"; no UI code here.

A map, in the order data flows (config -> job queue -> worker process -> run folder -> readers):

- What a network is, and how it is trained (no TensorFlow): `config` (ModelConfig, TrainConfig), `architecture`
  (the layer plan, shapes and parameter counts), `presets`, `budget` (what a training may cost), `share` (settings
  as link parameters), `course` (the Lab's steps, from course.toml) and `exercises` (its "your turn" code), `sweep`
  (several trainings that differ in one or two settings: `sweep_values`, `sweep_summary`), `lr_range` (the
  learning-rate range test's schedule, smoothing and suggestion) and `lr_find` (that test as a queue job).
- `jobs/`, the server's side, in the server's process (no TensorFlow): the queue (owners, places, stop, shared
  identical trainings, one scheduler per runs folder, sweeps as series of jobs), local worker processes, Ray, and
  `make_executor`.
- `worker/`, the worker process (the only package importing Keras at module level): `python -m mnist_models.worker`
  trains one run (or runs a learning-rate range test, `tasks`) and publishes everything into the run's folder,
  TensorBoard's HParams included.
- `store/`, the run folder's one home: file names, statuses and curve points, RunStore, a learner's digits and
  the class's learners, a learner's sweeps, curves as CSV.
- Around them: `data` (the bundled MNIST), `glance` (its first digits without loading it), `drawing` (canvas ->
  28x28), `predict` and `inspection` (a trained model), `insight` (what the worker records during training),
  `class_board` (the teacher's view), the code both ways (`code_out`, `code_notebook`; `code_in` with `code_eval`,
  `code_values`, `code_network`, `code_training`; `compare` for exercises), and the command line (`cli`,
  `cli_code`, `cli_sweep`, `cli_lr_find`, `__main__`).
"""
