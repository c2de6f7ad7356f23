"""The training graph: codes -> towers (decoder, loss) -> one optimizer step.

The post's training cell, fixed where it was broken (blog-implementation-facts.md): each
of K towers gathers and projects the codes of its own images, decodes them with shared
variables (reuse), and computes its loss; the losses are averaged and minimised with
`colocate_gradients_with_ops`; batch-norm update ops are grouped into the train op.

Placement: every variable (codes, decoder, optimizer slots) lives on `/cpu:0`; each
tower's ops run on `/gpu:i` (or `/cpu:i` with tower_device='cpu', so tests can run two
towers on a CPU). Soft placement puts a `/gpu:i` tower on the CPU when there is no GPU.
Batch-norm moving statistics are updated from the first tower only (as slim's
model_deploy does), so they do not depend on the order in which towers finish.
"""
from glo_tf1 import codes as codes_lib
from glo_tf1 import decoder as decoder_lib
from glo_tf1 import losses
from glo_tf1 import optimizers
from glo_tf1.compat import tf

VARIABLE_OPS = ('Variable', 'VariableV2', 'VarHandleOp')


def tower_devices(cfg):
  kind = cfg['tower_device']
  return ['/%s:%d' % (kind, i) for i in range(cfg['num_gpus'])]


def _device_fn(tower_device):
  def fn(op):
    return '/cpu:0' if op.type in VARIABLE_OPS else tower_device
  return fn


def image_grid(images, reconstructions, max_rows=8):
  """[1, rows * S, 2 * S, 3] in [0, 1]: originals (left) beside reconstructions (right)."""
  rows = tf.concat([images[:max_rows], reconstructions[:max_rows]], axis=2)
  grid = tf.reshape(rows, [1, -1, rows.get_shape().as_list()[2], 3])
  return tf.clip_by_value((grid + 1.) / 2., 0., 1.)


def build_training_graph(cfg, tower_inputs, num_codes):
  """Builds codes, towers, loss and train op in the default graph.

  Args:
    cfg: resolved config (config.resolve).
    tower_inputs: one {'image', 'index'} dict per tower (inputs.tower_inputs).
    num_codes: N, the number of training images.
  Returns:
    dict with global_step, codes, loss (averaged over towers), tower_losses, train_op,
    optimizers, towers (each {'image', 'index', 'code', 'reconstruction', 'loss'}),
    image_summary.
  """
  seed = cfg['seed'] if cfg['deterministic'] else None
  global_step = tf.train.get_or_create_global_step()
  with tf.device('/cpu:0'):
    codes = codes_lib.codes_variable(num_codes, cfg['latent_dims'], cfg['codes_init'], seed)
  towers = []
  update_ops = []
  devices = tower_devices(cfg)
  for i, (inputs, device) in enumerate(zip(tower_inputs, devices)):
    with tf.name_scope('model_%d' % i), tf.device(_device_fn(device)):
      n_updates = len(tf.get_collection(tf.GraphKeys.UPDATE_OPS))
      code = codes_lib.lookup(codes, inputs['index'], cfg['projection'])
      recon = decoder_lib.decode(code, cfg, is_training=True, reuse=i > 0)
      if i == 0:
        update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)[n_updates:]
      with tf.name_scope('loss_%d' % i):
        loss = losses.reconstruction_loss(cfg['loss'], inputs['image'], recon,
                                          cfg['lap1_levels'])
    towers.append({'image': inputs['image'], 'index': inputs['index'], 'code': code,
                   'reconstruction': recon, 'loss': loss})
  with tf.name_scope('total_loss'):
    total = tf.add_n([t['loss'] for t in towers]) / float(len(towers))
  network_vars = tf.trainable_variables('decoder')
  op, opts = optimizers.train_op(total, codes, network_vars, cfg, global_step)
  op = tf.group(op, *update_ops)
  if cfg['project_stored_codes']:
    with tf.control_dependencies([op]):
      index = tf.concat([t['index'] for t in towers], axis=0)
      op = tf.group(codes_lib.project_rows_op(codes, index, cfg['projection']))
  tf.summary.scalar('loss', total)
  for i, t in enumerate(towers):
    tf.summary.scalar('loss_tower_%d' % i, t['loss'])
  image_summary = tf.summary.image(
      'reconstructions', image_grid(towers[0]['image'], towers[0]['reconstruction']),
      collections=['image_summaries'])
  return {'global_step': global_step, 'codes': codes, 'loss': total,
          'train_op': op, 'optimizers': opts, 'towers': towers,
          'image_summary': image_summary}
