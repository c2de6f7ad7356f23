"""FLOPs of the decoder, counted from the graph it builds (the benchmark's GFLOP/s and the
GPU estimate of `glo-bench --mode placement`)."""
from glo_tf1.compat import tf
from glo_tf1.model import decoders


def graph_flops(ops):
  """Forward FLOPs (2 per multiply-add) of the convolutions and matmuls among `ops`, from
  their static shapes. A transpose convolution (Conv2DBackpropInput; filter [k, k, out,
  in]) spreads each of its h * w * in input values over a k x k window of every output
  channel: h * w * in * k * k * out multiply-adds, zero padding included, as usual; a
  Conv2D costs out_h * out_w * k * k * in * out; a MatMul [m, n] x [n, p] m * n * p. Batch
  norm, ReLU, tanh, the loss and the optimizers are elementwise, under 1% at the blog's
  size, and left out."""
  total = 0
  for op in ops:
    if op.type == 'Conv2DBackpropInput':
      k_h, k_w, c_out, c_in = op.inputs[1].shape.as_list()
      n, h, w, _ = op.inputs[2].shape.as_list()
      total += 2 * n * h * w * c_in * k_h * k_w * c_out
    elif op.type == 'Conv2D':
      k_h, k_w, c_in, c_out = op.inputs[1].shape.as_list()
      n, h, w, _ = op.outputs[0].shape.as_list()
      total += 2 * n * h * w * k_h * k_w * c_in * c_out
    elif op.type == 'MatMul':
      a, b = (t.shape.as_list() for t in op.inputs)
      m, k = a[::-1] if op.get_attr('transpose_a') else a
      p = b[0] if op.get_attr('transpose_b') else b[1]
      total += 2 * m * k * p
  return total


def decoder_flops(cfg):
  """Forward FLOPs of the decoder of `cfg` for one image, counted from the graph that
  model/decoders/ builds: any registered decoder is counted as it is."""
  with tf.Graph().as_default() as graph:
    decoders.decode(tf.zeros([1, cfg['latent_dims']]), cfg, is_training=True)
    return graph_flops(graph.get_operations())


def training_flops_per_image(cfg):
  """Training costs 3x the forward pass: forward, the gradient with respect to the inputs
  and with respect to the weights, each the same multiply-adds."""
  return 3 * decoder_flops(cfg)
