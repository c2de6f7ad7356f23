"""notebooks/glo_post.ipynb, the post runnable in its order (issue 30): committed without
outputs, and executed by nbclient in a real Jupyter kernel (ipykernel), as a user runs
it. Every cell runs without an error or a line on stderr (TensorFlow's logs stay out),
the loss the run's own events record goes down, and each image shown is what it says:
the input batch at the settings' shape, the four figures the very files glo-figures'
code wrote."""
import base64
import io
import json
import os
import re

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient
from PIL import Image

from conftest import ROOT

NOTEBOOK = os.path.join(ROOT, 'notebooks', 'glo_post.ipynb')
# The post's sections in its order (docs/post.md), then its figures.
HEADINGS = ['Inputs pipeline', '`project`', 'Decoder', 'Loss function', 'Training',
            'Results', 'Reconstructions', 'Samples', 'Interpolation', 'Nearest neighbours']
FIGURES = {'figure-reconstructions': 'reconstructions.png', 'figure-samples': 'samples.png',
           'figure-interpolation': 'interpolation.png',
           'figure-nearest-neighbours': 'nearest_neighbours.png'}
LOSS_TAG = 'losses/losses/total'  # towers.py's scalar, the notebook's own tag
# What TensorFlow's C++ and Python loggers print: 'W0000 00:00...', 'I tensorflow/...',
# 'WARNING:tensorflow:...', oneDNN's banner.
TF_NOISE = re.compile(r'^[IWEF]\d{4} |tensorflow/|WARNING:|oneDNN|absl::', re.M)


def _read():
  return nbformat.read(NOTEBOOK, as_version=4)


def unstripped(nb):
  """Code cells that carry what an execution leaves: outputs, a count, timing metadata."""
  return ['cell %d (%s)' % (i, ', '.join(cell.metadata.get('tags', [])))
          for i, cell in enumerate(nb.cells) if cell.cell_type == 'code' and (
              cell.outputs or cell.execution_count is not None or
              'execution' in cell.metadata)]


def _tagged(nb, tag):
  (cell,) = [c for c in nb.cells if tag in c.metadata.get('tags', [])]
  return cell


def _png(output):
  return base64.b64decode(output['data']['image/png'])


def test_committed_notebook_is_valid_and_stripped():
  nb = _read()
  nbformat.validate(nb)
  assert not unstripped(nb), 'notebooks/glo_post.ipynb is committed with outputs in %s: ' \
      'clear them (jupyter nbconvert --clear-output --inplace)' % unstripped(nb)


def test_notebook_follows_the_posts_sections():
  headings = [line.lstrip('#').strip() for cell in _read().cells
              if cell.cell_type == 'markdown'
              for line in cell.source.splitlines() if re.match(r'#{2,3} ', line)]
  assert headings == HEADINGS


@pytest.fixture(scope='module')
def executed(tmp_path_factory):
  """(the executed notebook, its output folder): one run in a fresh ipykernel."""
  out = str(tmp_path_factory.mktemp('notebook'))
  jupyter = str(tmp_path_factory.mktemp('jupyter'))
  nb = _read()
  # The kernel's environment: this tree's package, no TF_CPP_MIN_LOG_LEVEL (the notebook
  # must keep TensorFlow quiet by itself), IPython's profile and the kernel's connection
  # file in the test's folders.
  env = {k: v for k, v in os.environ.items() if k != 'TF_CPP_MIN_LOG_LEVEL'}
  env.update(GLO_NOTEBOOK_OUT=out, PYTHONPATH=ROOT, IPYTHONDIR=os.path.join(jupyter, 'ipython'))
  with pytest.MonkeyPatch.context() as mp:  # read in this process
    mp.setenv('JUPYTER_RUNTIME_DIR', os.path.join(jupyter, 'runtime'))
    client = NotebookClient(nb, timeout=300, startup_timeout=180, kernel_name='python3',
                            resources={'metadata': {'path': os.path.dirname(NOTEBOOK)}})
    client.execute(env=env)
  return nb, out


@pytest.mark.e2e
def test_every_cell_runs_quietly(executed):
  nb, _ = executed
  code = [c for c in nb.cells if c.cell_type == 'code']
  assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
  assert unstripped(nb), 'the stripped check must see an executed notebook'
  for cell in code:
    tags = cell.metadata.get('tags')
    for output in cell.outputs:
      assert output.output_type != 'error', (tags, output)
      assert not (output.output_type == 'stream' and output.name == 'stderr'), (
          tags, output.text)
      text = output.get('text', '') + output.get('data', {}).get('text/plain', '')
      assert not TF_NOISE.search(text), (tags, text)


def _stdout(cell):
  return ''.join(o.text for o in cell.outputs if o.output_type == 'stream')


@pytest.mark.e2e
def test_sections_show_the_packages_results(executed):
  nb, out = executed
  with open(os.path.join(out, 'run', 'config.json')) as f:
    cfg = json.load(f)
  side, batch = cfg['image_size'], cfg['batch_size']
  # The input batch: `batch` images of side S in a mosaic of 8 columns, 1 px apart,
  # shown 4x; one channel (L) as the run's settings say.
  (shown,) = [o for o in _tagged(nb, 'input-queue').outputs if 'image/png' in o.get('data', {})]
  image = Image.open(io.BytesIO(_png(shown)))
  rows = -(-batch // 8)
  assert image.size == (4 * (8 * side + 7), 4 * (rows * side + rows - 1))
  assert image.mode == {1: 'L', 3: 'RGB'}[cfg['channels']]
  assert 'every image is the file of its index: True' in _stdout(_tagged(nb, 'input-queue'))
  assert "the post's project: True" in _stdout(_tagged(nb, 'project'))
  ours, numpy_mse = re.findall(r': (\d+\.\d+)\n', _stdout(_tagged(nb, 'loss')))[:2]
  assert ours == numpy_mse
  # The four figures: each shown once, the very PNG written into the figures folder.
  for tag, name in FIGURES.items():
    pngs = [o for o in _tagged(nb, tag).outputs if 'image/png' in o.get('data', {})]
    assert len(pngs) == 1, tag
    with open(os.path.join(out, 'figures', name), 'rb') as f:
      assert _png(pngs[0]) == f.read(), tag
    width, height = Image.open(io.BytesIO(_png(pngs[0]))).size
    assert width >= 4 * side and height >= 4 * side, (tag, width, height)


@pytest.mark.e2e
def test_training_cell_trains_to_the_last_step_and_the_loss_goes_down(executed):
  from glo_tf1.compat import tf  # pylint: disable=import-outside-toplevel
  _, out = executed
  run = os.path.join(out, 'run')
  with open(os.path.join(run, 'config.json')) as f:
    num_steps = json.load(f)['num_steps']
  assert tf.train.latest_checkpoint(run).endswith('-%d' % num_steps)
  points = {}
  for name in os.listdir(run):
    if name.startswith('events.out.tfevents'):
      for event in tf.train.summary_iterator(os.path.join(run, name)):
        for value in event.summary.value:
          if value.tag == LOSS_TAG:
            points[event.step] = value.simple_value
  steps = sorted(points)
  assert steps[0] == 1 and steps[-1] == num_steps, steps
  first, last = points[steps[0]], np.mean([points[s] for s in steps[-3:]])
  assert last < 0.5 * first, (first, last)
