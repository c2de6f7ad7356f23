"""The training graph: codes -> towers (decoder, loss) -> one optimizer step.

The post's training cell, fixed where it was broken (docs/reference/notebook-facts.md): each
of K towers gathers and projects the codes of its own images, decodes them with shared
variables (reuse), and computes its loss; the losses are averaged and minimised with
`colocate_gradients_with_ops`; batch-norm update ops are grouped into the train op.

Placement is given, never asked (slim's model_deploy: the model function does not know
where it runs): `build_training_graph` takes a deployment (deploy/devices.deployment) with
one device (a string or a tf.device function) per tower and the variables' device. With the
towers on GPUs every variable (codes, decoder, optimizer slots, global step) lives on the
first GPU, as in the notebook, so the optimizer's updates run there and only the batch
crosses from the host; with `--variable_device cpu` (slim's model_deploy) they live on
`/cpu:0`. On a cluster, replica_device_setter (cluster.py) moves the variables to
`/job:ps/task:k` and the towers to this worker's devices.
Towers combine their gradients through the averaged loss: tf.gradients sums each
variable's per-tower terms. The codes' gradient stays sparse: each tower's lookup yields
IndexedSlices of its B rows, the towers' slices are concatenated (K * B rows), and
the codes optimizer applies them row by row (Adam, LazyAdam and SGD all take the sparse
path); no (N, dims) gradient is ever formed (tests/model/test_towers.py checks the graph).
Batch-norm moving statistics are updated from the first tower only (as slim's
model_deploy does), so they do not depend on the order in which towers finish.
"""
import functools

from glo_tf1.compat import tf
from glo_tf1.data import images as images_lib
from glo_tf1.model import codes as codes_lib
from glo_tf1.model import decoders
from glo_tf1.model import losses
from glo_tf1.model import optimizers
from glo_tf1.model import samplers

def learning_rate_tensor(opt):
  """The learning-rate tensor an optimizer applies (made by its apply_gradients)."""
  for attr in ('_lr_t', '_learning_rate_tensor'):  # Adam (and LazyAdam), SGD
    value = getattr(opt, attr, None)
    if value is not None:
      return value
  raise ValueError('cannot find the learning rate of %s' % type(opt).__name__)


def _to_unit(grid):
  """[-1, 1] -> [0, 1] for tf.summary.image (the notebook's `images * 0.5 + 0.5`)."""
  return tf.clip_by_value((grid + 1.) / 2., 0., 1.)


MAX_SUMMARY_FIT = 10000  # rows of a partitioned (cluster) table the summary fit reads


def generation_grids(codes, cfg, rows=images_lib.GRID_ROWS):
  """The notebook's generated grids during training, each `rows` x `rows`, in [-1, 1].

  sampled_unit (z ~ N(0, I)), sampled_fitted (a diagonal Gaussian from tf.nn.moments of
  the *raw* codes, as the notebook) and interpolated (ONE pair of random training codes,
  rows * rows steps of normalised linear interpolation, row by row), all decoded in
  inference mode with the live variables (docs/reference/notebook-facts.md,
  "Generation"). The fit reads every code, as the notebook (65 MB for CelebA, on the
  GPU with the variables); only a table partitioned over parameter servers (cluster.py)
  is fitted on MAX_SUMMARY_FIT random rows, so a summary never gathers it whole
  (docs/departures.md).
  Returns ({grid name: [1, H, W, C]}, the diagonal fit {'mean', 'scale'}).
  """
  n, dims = rows * rows, cfg['latent_dims']
  num_codes = codes.get_shape().as_list()[0]

  def random_rows(k, name):
    ids = tf.random_uniform([k], maxval=num_codes, dtype=tf.int32, name=name)
    return codes_lib.rows(codes, ids)

  with tf.name_scope('generation_summaries'):
    unit = tf.random_normal([n, dims], name='unit_noise')
    whole = not codes_lib.is_partitioned(codes)
    fit = samplers.fit_diagonal_gaussian(
        codes if whole else random_rows(MAX_SUMMARY_FIT, 'fit_rows'))
    fitted = samplers.sample_codes(tf.random_normal([n, dims], name='fitted_noise'),
                                   'fitted', fit)
    pair = random_rows(2, 'pair')
    path = samplers.interpolate(pair[:1], pair[1:], n, 'nlerp', cfg['projection'])
    grids = {}
    for name, z in (('sampled_unit', unit), ('sampled_fitted', fitted),
                    ('interpolated', tf.reshape(path, [n, dims]))):
      grids[name + '_grid'] = images_lib.square_grid(
          samplers.inference_decoder(z, cfg, reuse=True), rows)
  return grids, fit


def _summaries(cfg, codes, towers, total, opts, first_tower_device):
  """The scalar summaries (default collection) and the notebook's four grids: returns
  (the merged image summary, {grid name: [1, H, W, C]}, the summary fit)."""
  # The notebook's `tf.summary.scalar('total', loss, family='losses')`, made at the top of
  # the graph as there: TF1 repeats the family in the tag, `losses/losses/total`.
  tf.summary.scalar('total', total, family='losses')
  for i, t in enumerate(towers):
    tf.summary.scalar('loss_tower_%d' % i, t['loss'])
  for part, opt in sorted(opts.items()):
    tf.summary.scalar('learning_rate/' + part, learning_rate_tensor(opt))
  # The notebook's four grids: the reconstruction grid shows the training step's own outputs
  # (batch norm in training mode) of the LAST tower, whose `inputs` and `outputs` the
  # notebook's tower loop left bound when it called add_glo_summaries; samples and
  # interpolation use inference mode.
  grids = {'reconstruction_grid': images_lib.comparison_grid(towers[-1]['image'],
                                                             towers[-1]['reconstruction'])}
  with tf.device(first_tower_device):
    generated, summary_fit = generation_grids(codes, cfg)
  grids.update(generated)
  image_summaries = [tf.summary.image('reconstruction', _to_unit(grids['reconstruction_grid']),
                                      collections=['image_summaries'])]
  for name in ('sampled_unit', 'sampled_fitted', 'interpolated'):
    image_summaries.append(tf.summary.image(name, _to_unit(grids[name + '_grid']),
                                            collections=['image_summaries'], family='samples'))
  return tf.summary.merge(image_summaries), grids, summary_fit


def build_training_graph(cfg, tower_inputs, num_codes, deployment, codes_partitioner=None,
                         train_op_fn=None):
  """Builds codes, towers, loss and train op in the default graph.

  Args:
    cfg: resolved config (settings.resolve).
    tower_inputs: one {'image', 'index'} dict per tower (pipelines.tower_inputs).
    num_codes: N, the number of training images.
    deployment: where it runs (deploy/devices.deployment): `towers`, one device string or
      function per tower; `variables`, the variables' device; `unique_rows`, whether every
      scatter must write each row once (optimizers.UniqueRowsGradientDescentOptimizer).
    codes_partitioner: splits the codes table into row blocks (cluster.py); None: one.
    train_op_fn: replaces optimizers.train_op (same signature; cluster.py's synchronous
      replicas).
  Returns:
    dict with global_step, codes, loss (averaged over towers), tower_losses, train_op,
    optimizers, towers (each {'image', 'index', 'code', 'reconstruction', 'loss'}),
    image_summary (the merged grids: reconstruction, samples/sampled_unit,
    samples/sampled_fitted, samples/interpolated), grids ({name: [1, H, W, C] in [-1, 1]}
    for reconstruction_grid, sampled_unit_grid, sampled_fitted_grid, interpolated_grid, the
    notebook's SAVE_IMAGES_KEYS), summary_fit (the diagonal fit behind sampled_fitted).
    Scalar summaries (default collection): losses/losses/total (the notebook's tag),
    loss_tower_i, learning_rate/network and learning_rate/codes.
  """
  # No op seeds: under --deterministic, loop.build_training sets the graph seed, from which TF gives
  # each random op its own (one explicit seed would give the codes and every decoder layer
  # the same random stream, perfectly correlated initial values).
  with tf.device(deployment.variables):
    global_step = tf.train.get_or_create_global_step()
    codes = codes_lib.codes_variable(num_codes, cfg['latent_dims'], cfg['codes_init'], None,
                                     partitioner=codes_partitioner)
  towers = []
  update_ops = []
  for i, (inputs, device) in enumerate(zip(tower_inputs, deployment.towers)):
    with tf.name_scope('model_%d' % i), tf.device(device):
      n_updates = len(tf.get_collection(tf.GraphKeys.UPDATE_OPS))
      code = codes_lib.lookup(codes, inputs['index'], cfg['projection'])
      recon = decoders.decode(code, cfg, is_training=True, reuse=i > 0)
      if i == 0:
        update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)[n_updates:]
      with tf.name_scope('loss_%d' % i):
        loss = losses.reconstruction_loss(inputs['image'], recon, cfg)
    towers.append({'image': inputs['image'], 'index': inputs['index'], 'code': code,
                   'reconstruction': recon, 'loss': loss})
  with tf.name_scope('total_loss'):
    total = tf.add_n([t['loss'] for t in towers]) / float(len(towers))
  network_vars = tf.trainable_variables(decoders.SCOPE)
  train_op_fn = train_op_fn or functools.partial(optimizers.train_op,
                                                 unique_rows=deployment.unique_rows)
  op, opts = train_op_fn(total, codes, network_vars, cfg, global_step)
  op = tf.group(op, *update_ops)
  if cfg['project_stored_codes']:
    with tf.control_dependencies([op]):
      index = tf.concat([t['index'] for t in towers], axis=0)
      op = tf.group(codes_lib.project_rows_op(codes, index, cfg['projection']))
  image_summary, grids, summary_fit = _summaries(cfg, codes, towers, total, opts,
                                                 deployment.towers[0])
  return {'global_step': global_step, 'codes': codes, 'loss': total,
          'train_op': op, 'optimizers': opts, 'towers': towers,
          'image_summary': image_summary, 'grids': grids, 'summary_fit': summary_fit}
