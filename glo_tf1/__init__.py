"""glo-tf1: a faithful TensorFlow 1 reproduction of Generative Latent Optimization (GLO).

Bojanowski et al., "Optimizing the Latent Space of Generative Networks" (2017), as
implemented by the blog post "generative latent optimization" (2017-10-12).
"""
from glo_tf1.version import __version__  # noqa: F401  (glo_tf1.__version__)


def load(run_dir, checkpoint=None, **kwargs):
  """A trained run as a Python object, numpy in and out: decode, sample, reconstruct,
  codes, close (glo_tf1/evaluation/trained.py, docs/api.md). TensorFlow is imported here,
  not by `import glo_tf1`."""
  from glo_tf1.evaluation import trained  # pylint: disable=import-outside-toplevel
  return trained.load(run_dir, checkpoint, **kwargs)
