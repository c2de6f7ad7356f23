"""The Python API (glo_tf1.load) and glo-sample, on the tiny trained run: properties that
hold whatever the weights (the sphere projection's scale invariance, a sampler's mean,
seeding, resuming), the report's number recomputed, the docs' example run as written."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest
from PIL import Image

from conftest import corrupt_scan_jpeg
from conftest import ROOT
from conftest import run_main
from conftest import run_module
import glo_tf1
from glo_tf1 import io
from glo_tf1 import rundir
from glo_tf1 import settings
from glo_tf1.data import files
from glo_tf1.evaluation import export
from glo_tf1.evaluation import report as evaluate


@pytest.fixture(scope='module')
def loaded(tiny_run):
  with glo_tf1.load(tiny_run) as run:
    yield run


def test_import_glo_tf1_does_not_import_tensorflow():
  code = 'import sys, glo_tf1; print("tensorflow" in sys.modules, callable(glo_tf1.load))'
  proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                        env=dict(os.environ, PYTHONPATH=ROOT), timeout=60)
  assert proc.stdout.split() == ['False', 'True'], proc.stderr


def test_decode_projects_its_codes(loaded):
  """The demo's sphere projection: a code and any positive multiple decode alike, and the
  projected codes decode as the raw ones."""
  assert loaded.cfg['projection'] == 'sphere'
  z = loaded.codes()
  assert z.shape == (200, 8) and len(loaded.names) == 200
  zp = loaded.codes(projected=True)
  np.testing.assert_allclose(np.linalg.norm(zp, axis=1), 1., rtol=1e-5)
  np.testing.assert_allclose(zp, z / np.linalg.norm(z, axis=1, keepdims=True), rtol=1e-5)
  images = loaded.decode(z[:10])
  assert images.shape == (10, 16, 16, 3) and images.min() >= -1 and images.max() <= 1
  np.testing.assert_allclose(loaded.decode(3.7 * z[:10]), images, atol=1e-5)
  np.testing.assert_allclose(loaded.decode(zp[:10]), images, atol=1e-5)
  np.testing.assert_array_equal(loaded.codes(indices=[3, 0]), z[[3, 0]])
  # More rows than the static batch (8), in chunks; and zero rows.
  np.testing.assert_allclose(loaded.decode(z[:19])[:10], images, atol=1e-6)
  assert loaded.decode(z[:0]).shape == (0, 16, 16, 3)


def test_samplers_against_numpy(loaded):
  z = loaded.codes().astype(np.float64)
  noise = np.random.RandomState(5).standard_normal((6, 8))
  np.testing.assert_allclose(loaded.sample_codes(6, 'unit', seed=5), noise, rtol=1e-6)
  # Zero noise gives the fitted mean: the codes' mean for both fits.
  zero = np.zeros((3, 8))
  for kind in ('fitted', 'full'):
    np.testing.assert_allclose(loaded.sample_codes(3, kind, noise=zero),
                               np.repeat(z.mean(0, keepdims=True), 3, 0), atol=1e-5)
  # The diagonal fit scales each coordinate by its standard deviation.
  unit = np.eye(8)
  diag = loaded.sample_codes(8, 'fitted', noise=unit) - z.mean(0)
  np.testing.assert_allclose(np.diag(diag), z.std(0), rtol=1e-3)
  a = loaded.sample(4, 'full', seed=1)
  np.testing.assert_array_equal(a, loaded.sample(4, 'full', seed=1))
  assert not np.allclose(a, loaded.sample(4, 'full', seed=2))
  with pytest.raises(ValueError, match='kind must be one of unit, fitted, full'):
    loaded.sample(2, 'gauss')


def test_reconstruct_fits_codes_and_refuses_bad_images(loaded):
  target = loaded.load_images(loaded.paths[:5])  # the demo's loss is the squared error
  assert loaded.cfg['loss'] == 'mse'
  err = [np.mean((loaded.reconstruct(target, steps=s, seed=0) - target) ** 2)
         for s in (0, 60)]
  assert err[1] < err[0], err  # 30 training steps: the decoder is barely trained
  codes, recons = loaded.fit_codes(target, steps=0, seed=0)
  np.testing.assert_allclose(loaded.decode(codes), recons, atol=1e-5)  # codes are raw
  np.testing.assert_array_equal(recons, loaded.reconstruct(target, steps=0, seed=0))
  with pytest.raises(ValueError, match=r'\[n, 16, 16, 3\].*got shape \(5, 16, 16\)'):
    loaded.reconstruct(target[..., 0])
  with pytest.raises(ValueError, match=r'in \[-1, 1\].*\[0, 255\]'):
    loaded.reconstruct(np.full((2, 16, 16, 3), 255.))
  with pytest.raises(ValueError, match=r'codes must be \[n, 8\]'):
    loaded.decode(np.zeros((2, 7)))


@pytest.mark.e2e
def test_the_report_is_the_apis_number(tiny_run, loaded):
  """glo-evaluate's learned-code MSE, recomputed through the API on the same images."""
  report = evaluate.evaluate(tiny_run, steps=0, max_images=10, seed=1, pca_max_images=None)
  idx = files.seeded_subset(200, 10, np.random.RandomState([1, 2]))
  images = loaded.load_images([loaded.paths[i] for i in idx])
  mse = np.mean((loaded.decode(loaded.codes(indices=idx)) - images.astype(np.float64)) ** 2)
  assert report['sections']['train_learned']['mse_pm1'] == pytest.approx(mse, rel=1e-5)
  assert report['step'] == loaded.step == 30


def test_a_run_loads_without_its_images_and_closes(tiny_run, tmp_path):
  moved = str(tmp_path / 'run')
  shutil.copytree(tiny_run, moved)
  provenance = os.path.join(moved, 'provenance.json')
  text = open(provenance).read()
  with open(provenance, 'w') as f:
    f.write(re.sub(r'"data_dir": "[^"]*"', '"data_dir": "%s"' % (tmp_path / 'gone'), text))
  run = glo_tf1.load(moved, checkpoint=15)
  assert run.paths is None and run.step == 15 and 'step 15' in repr(run)
  assert run.decode(run.codes()[:2]).shape == (2, 16, 16, 3)
  with pytest.raises(settings.ConfigError, match=re.escape(
      'the training images of %s are not where it recorded them (%s); give --data_dir'
      % (moved, tmp_path / 'gone'))):
    export.export_references(run, str(tmp_path / 'refs'), 4)
  assert not os.path.exists(str(tmp_path / 'refs'))
  run.close()
  with pytest.raises(RuntimeError):
    run.decode(np.ones((1, 8)))


@pytest.mark.e2e
def test_the_docs_example_runs_as_written(tiny_run):
  with open(os.path.join(ROOT, 'docs', 'api.md')) as f:
    (example,) = re.findall(r'```python\n(.*?)```', f.read(), re.S)
  assert "RUN = 'runs/demo/run'" in example
  code = example.replace("RUN = 'runs/demo/run'", 'RUN = %r' % tiny_run)
  proc = subprocess.run([sys.executable, '-c', code + '\nprint("mse", mse)\n'],
                        capture_output=True, text=True, timeout=300,
                        env=dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL='3'))
  assert proc.returncode == 0, proc.stderr
  assert 'preset demo, step 30' in proc.stdout
  assert 0 < float(proc.stdout.split('mse')[-1]) < 4


# ----------------------------------------------------------------------------- glo-sample

@pytest.mark.e2e
def test_samples_resume_to_the_same_files_in_both_formats(tiny_run, loaded, tmp_path,
                                                          monkeypatch):
  monkeypatch.setattr(export, 'CHUNK', 4)
  out = str(tmp_path / 'samples')
  export.export_samples(loaded, out, 10, 'fitted', seed=3)
  names = sorted(n for n in os.listdir(out) if n.endswith('.png'))
  assert names == ['%06d.png' % i for i in range(10)]
  first = {n: open(os.path.join(out, n), 'rb').read() for n in names}
  # An interruption after chunk 0: chunks 1 and 2 are redone, chunk 0 kept.
  for n in names[4:]:
    os.remove(os.path.join(out, n))
  os.utime(os.path.join(out, names[0]), (1, 1))
  export.export_samples(loaded, out, 10, 'fitted', seed=3)
  assert {n: open(os.path.join(out, n), 'rb').read() for n in names} == first
  assert os.stat(os.path.join(out, names[0])).st_mtime == 1  # not rewritten
  # The PNGs are the fixed map of the API's samples, chunk c from RandomState([3, c]).
  noise = np.random.RandomState([3, 1]).standard_normal((4, 8))
  want = np.clip(np.round((loaded.sample(4, 'fitted', noise=noise) + 1) * 127.5), 0, 255)
  got = np.stack([np.asarray(Image.open(os.path.join(out, n))) for n in names[4:8]])
  assert np.abs(got.astype(int) - want).max() <= 1
  # The .npz, interrupted after one chunk, merges to the folder's pixels.
  npz = str(tmp_path / 'samples.npz')
  calls = []
  real = loaded.sample_codes

  def stop_after_one(*a, **k):
    if calls:
      raise KeyboardInterrupt
    calls.append(1)
    return real(*a, **k)

  monkeypatch.setattr(loaded, 'sample_codes', stop_after_one)
  with pytest.raises(KeyboardInterrupt):
    export.export_samples(loaded, npz, 10, 'fitted', seed=3)
  monkeypatch.setattr(loaded, 'sample_codes', real)
  assert not os.path.exists(npz)
  assert sorted(os.listdir(npz + '.partial')) == sorted(['chunk_00000.npz', export.EXPORT_META])
  export.export_samples(loaded, npz, 10, 'fitted', seed=3)
  data = np.load(npz)
  assert not os.path.exists(npz + '.partial')
  assert data['images'].dtype == np.uint8 and data['images'].shape == (10, 16, 16, 3)
  folder = np.stack([np.asarray(Image.open(os.path.join(out, n))) for n in names])
  np.testing.assert_array_equal(data['images'], folder)
  assert data['codes'].shape == (10, 8) and str(data['meta_sampler']) == 'fitted'


def _fake_free(monkeypatch, free):
  usage = shutil.disk_usage('.')
  monkeypatch.setattr(shutil, 'disk_usage', lambda path: usage._replace(free=free))


def test_an_export_that_cannot_fit_is_refused_before_anything_is_written(loaded, tmp_path,
                                                                         monkeypatch):
  """--num 9999999 at 16 px needs 41 GB of PNGs (one 4 KiB block each): with 1 GB free it
  is refused naming the folder, the size and the free space; nothing is written."""
  _fake_free(monkeypatch, 10 ** 9)
  for out in (str(tmp_path / 'samples'), str(tmp_path / 'samples.npz')):
    with pytest.raises(io.NoRoomError) as e:
      export.export_samples(loaded, out, 9999999, 'unit')
    text = str(e.value)
    assert text.startswith(out + ': not enough free space in %s for the export of 9999999 '
                           'images' % tmp_path) and '1.0 GB free' in text, text
    assert os.listdir(str(tmp_path)) == []
  assert 'needs about 41.0 GB' in str(pytest.raises(
      io.NoRoomError, export.export_samples, loaded, str(tmp_path / 's'), 9999999, 'unit').value)


def test_a_resumed_export_needs_room_for_the_rest_only(loaded, tmp_path, monkeypatch):
  monkeypatch.setattr(export, 'CHUNK', 4)
  out = str(tmp_path / 'resumed')
  calls, real = [], loaded.sample_codes

  def stop_after_two(*a, **k):
    if len(calls) == 2:
      raise KeyboardInterrupt
    calls.append(1)
    return real(*a, **k)

  monkeypatch.setattr(loaded, 'sample_codes', stop_after_two)
  with pytest.raises(KeyboardInterrupt):
    export.export_samples(loaded, out, 12, 'unit')
  monkeypatch.setattr(loaded, 'sample_codes', real)
  whole = export.export_bytes(12, 16, 3, 8, npz=False)
  rest = whole - io.used_bytes(out)
  assert 0 < rest < whole
  free = int(rest * (1 + io.ROOM_MARGIN)) + io.ROOM_RESERVE + 1
  assert whole * (1 + io.ROOM_MARGIN) + io.ROOM_RESERVE > free  # the whole would not fit
  _fake_free(monkeypatch, free)
  export.export_samples(loaded, out, 12, 'unit')
  assert len([n for n in os.listdir(out) if n.endswith('.png')]) == 12


def test_the_export_estimate_bounds_the_real_export_within_a_factor_of_2(loaded, tmp_path,
                                                                          monkeypatch):
  """export_bytes against the room an export takes: a PNG folder, and an .npz at its peak
  (its chunks and the merged file, both kept here)."""
  monkeypatch.setattr(export, 'CHUNK', 5)
  out = str(tmp_path / 'png')
  export.export_samples(loaded, out, 12, 'full')
  actual = io.used_bytes(out)
  estimate = export.export_bytes(12, 16, 3, 8, npz=False)
  assert actual <= estimate <= 2 * actual, (actual, estimate)
  monkeypatch.setattr(export.os, 'remove', lambda path: None)  # keep the chunks (finish removes them one by one)
  npz = str(tmp_path / 'x.npz')
  export.export_samples(loaded, npz, 12, 'full')
  actual = io.used_bytes(npz + '.partial') + os.stat(npz).st_blocks * 512
  estimate = export.export_bytes(12, 16, 3, 8, npz=True, name_chars=10)
  assert actual <= estimate <= 2 * actual, (actual, estimate)


@pytest.mark.e2e
def test_glo_sample_beyond_the_free_space_is_refused_before_writing(tiny_run, tmp_path):
  """The real disk: one 16 px PNG more than its free space holds in 4 KiB blocks exits 2
  naming the folder, after loading the run, before writing a file. On /dev/shm (tmpfs),
  whose free space is within --num's cap of 10**7 such files."""
  if not os.path.isdir('/dev/shm'):
    pytest.skip('no /dev/shm')
  folder = tempfile.mkdtemp(dir='/dev/shm')
  try:
    num = shutil.disk_usage(folder).free // io.BLOCK + 1
    if num > 10 ** 7:
      pytest.skip('/dev/shm holds more than 10**7 files of 4 KiB')
    out = os.path.join(folder, 'samples')
    proc = run_main('glo_tf1.cli.sample', '--run_dir', tiny_run, '--out', out, '--num',
                    num, check=False)
    assert proc.returncode == 2, proc.stderr
    assert 'error: %s: not enough free space in %s for the export of %d images' % (
        out, folder, num) in proc.stderr
    assert os.listdir(folder) == []
  finally:
    shutil.rmtree(folder)


def test_a_resume_asking_for_something_else_is_refused(loaded, tmp_path, monkeypatch):
  monkeypatch.setattr(export, 'CHUNK', 4)
  out = str(tmp_path / 'samples')
  export.export_samples(loaded, out, 4, 'unit', seed=0)
  with pytest.raises(settings.ConfigError, match=r"(?s)saved -> asked.*sampler: 'unit' -> "
                     r"'full'.*seed: 0 -> 1"):
    export.export_samples(loaded, out, 4, 'full', seed=1)


@pytest.mark.e2e
def test_glo_sample_reconstructions_and_codes(tiny_run, lfw_dir, tmp_path):
  lst = tmp_path / 'some.txt'
  lst.write_text('lfw_000.jpg\nlfw_001.jpg\nlfw_002.jpg\n')
  out = str(tmp_path / 'recons.npz')
  run_main('glo_tf1.cli.sample', '--run_dir', tiny_run, '--out', out, '--what',
           'reconstructions', '--data_dir', lfw_dir, '--file_list', lst, '--steps=5')
  data = np.load(out)
  assert list(data['names']) == ['lfw_000.jpg', 'lfw_001.jpg', 'lfw_002.jpg']
  assert data['images'].shape == (3, 16, 16, 3) and data['codes'].shape == (3, 8)
  codes = str(tmp_path / 'codes.npz')
  proc = run_main('glo_tf1.cli.sample', '--run_dir', tiny_run, '--out', codes, '--what',
                  'codes', '--projected')
  assert 'Wrote' in proc.stdout
  data = np.load(codes)
  assert bool(data['projected']) and str(data['projection']) == 'sphere'
  np.testing.assert_allclose(np.linalg.norm(data['codes'], axis=1), 1, rtol=1e-5)
  assert len(data['names']) == 200 and int(data['meta_step']) == 30
  assert 'step' not in data and str(data['meta_what']) == 'codes'
  recons = np.load(out)  # issue 30: one name for the step in every .npz
  assert int(recons['meta_step']) == int(data['meta_step'])
  assert {k for k in data if k.startswith('meta_')} >= {
      'meta_what', 'meta_run_dir', 'meta_checkpoint', 'meta_step', 'meta_image_size'}
  for bad, message in ((['--what', 'codes', '--out', str(tmp_path / 'c')], 'FILE.npz'),
                       (['--what', 'reconstructions', '--out', out], '--data_dir'),
                       (['--num=0', '--out', str(tmp_path / 's')],
                        'flag --num=0: 0 is not a positive integer')):
    proc = run_module('glo_tf1.cli.sample', '--run_dir', tiny_run, *bad, check=False)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr


def test_an_export_refuses_to_write_among_its_sources_or_the_run(tiny_run, lfw_dir, tmp_path):
  src = str(tmp_path / 'pngs')
  shutil.copytree(lfw_dir, src)
  before = sorted(os.listdir(src))
  for out, message in ((src, 'is the very folder of --data_dir'),
                       (os.path.join(src, 'sub'), 'is inside --data_dir'),
                       (os.path.join(tiny_run, 'x'), 'inside the run directory')):
    proc = run_module('glo_tf1.cli.sample', '--run_dir', tiny_run, '--out', out, '--what',
                      'reconstructions', '--data_dir', src, check=False)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert 'Traceback' not in proc.stderr and '-> %s' % out not in proc.stdout  # not loaded
  assert sorted(os.listdir(src)) == before
  # A folder of other files: a resume would take them for its own.
  other = tmp_path / 'other'
  other.mkdir()
  (other / '000000.png').write_bytes(b'not ours')
  with pytest.raises(settings.ConfigError, match='no glo-sample export wrote'):
    export.check_out(str(other), tiny_run)


def test_a_resume_trusts_only_the_chunks_it_recorded(loaded, tmp_path, monkeypatch):
  """A chunk whose files exist but that the export never recorded as finished (stopped in
  the middle of it) is written again; the recorded ones are kept."""
  monkeypatch.setattr(export, 'CHUNK', 4)
  out = str(tmp_path / 'samples')
  export.export_samples(loaded, out, 8, 'unit', seed=0)
  meta_path = os.path.join(out, export.EXPORT_META)
  meta = io.read_json(meta_path)
  assert meta['done_chunks'] == [0, 1]
  good = open(os.path.join(out, '000005.png'), 'rb').read()
  with open(os.path.join(out, '000005.png'), 'wb') as f:
    f.write(b'a file the export did not finish')
  os.utime(os.path.join(out, '000000.png'), (1, 1))
  io.write_json(meta_path, dict(meta, done_chunks=[0]))
  export.export_samples(loaded, out, 8, 'unit', seed=0)
  assert open(os.path.join(out, '000005.png'), 'rb').read() == good
  assert os.stat(os.path.join(out, '000000.png')).st_mtime == 1


def test_a_resume_replaces_or_removes_only_what_the_export_wrote(loaded, tmp_path,
                                                                   monkeypatch):
  """Issue 31: a user's file put in a stopped export's folder under a name of a chunk not
  yet started is refused, named, not overwritten; a user's file in OUT.partial/ survives
  the merge (only the chunks and the record are removed)."""
  monkeypatch.setattr(export, 'CHUNK', 4)
  real = loaded.sample_codes

  def stop_at_second(*a, **k):
    monkeypatch.setattr(loaded, 'sample_codes', lambda *a, **k: (_ for _ in ()).throw(
        KeyboardInterrupt))
    return real(*a, **k)

  for out in (str(tmp_path / 'samples'), str(tmp_path / 'samples.npz')):
    monkeypatch.setattr(loaded, 'sample_codes', stop_at_second)
    with pytest.raises(KeyboardInterrupt):
      export.export_samples(loaded, out, 8, 'unit', seed=0)
    monkeypatch.setattr(loaded, 'sample_codes', real)
    folder = out + '.partial' if out.endswith('.npz') else out
    assert io.read_json(os.path.join(folder, export.EXPORT_META))['started_chunks'] == [0]
    if not out.endswith('.npz'):
      with open(os.path.join(out, '000005.png'), 'wb') as f:
        f.write(b'my own picture')
      with pytest.raises(settings.ConfigError, match=r'000005\.png was not written by this '
                         r'export \(chunk 1 was never started\); nothing was overwritten'):
        export.export_samples(loaded, out, 8, 'unit', seed=0)
      assert open(os.path.join(out, '000005.png'), 'rb').read() == b'my own picture'
      assert not os.path.exists(os.path.join(out, '000004.png'))  # refused before writing
    else:
      with open(os.path.join(folder, 'notes.txt'), 'w') as f:
        f.write('mine')
      export.export_samples(loaded, out, 8, 'unit', seed=0)
      assert np.load(out)['images'].shape[0] == 8
      assert os.listdir(folder) == ['notes.txt']


def test_a_resume_on_another_file_list_of_the_same_length_is_refused(loaded, lfw_dir,
                                                                     tmp_path, monkeypatch):
  monkeypatch.setattr(export, 'CHUNK', 2)
  out = str(tmp_path / 'recons.npz')
  real = loaded.fit_codes

  def stop_after_one(*a, **k):
    monkeypatch.setattr(loaded, 'fit_codes', lambda *a, **k: (_ for _ in ()).throw(
        KeyboardInterrupt))
    return real(*a, **k)

  monkeypatch.setattr(loaded, 'fit_codes', stop_after_one)
  first = ['lfw_000.jpg', 'lfw_001.jpg', 'lfw_002.jpg']
  with pytest.raises(KeyboardInterrupt):
    export.export_reconstructions(loaded, out, lfw_dir, first, steps=0)
  monkeypatch.setattr(loaded, 'fit_codes', real)
  with pytest.raises(settings.ConfigError, match=r'(?s)saved -> asked.*files_sha256: '
                     r"'[0-9a-f]{64}' -> '[0-9a-f]{64}' \(another file list"):
    export.export_reconstructions(loaded, out, lfw_dir,
                                  ['lfw_003.jpg', 'lfw_004.jpg', 'lfw_005.jpg'], steps=0)
  export.export_reconstructions(loaded, out, lfw_dir, first, steps=0)  # the same list resumes
  assert list(np.load(out)['names']) == first


def test_sources_that_differ_only_in_extension_are_refused(tiny_run, tmp_path):
  src = tmp_path / 'src'
  src.mkdir()
  write = lambda name, fmt: Image.new('RGB', (8, 8)).save(str(src / name), format=fmt)
  write('a.jpg', 'JPEG')
  write('a.png', 'PNG')
  write('b.png', 'PNG')
  assert export.output_names(['b.png', 'c/d.jpeg']) == ['b.png', 'c/d.png']
  proc = run_module('glo_tf1.cli.sample', '--run_dir', tiny_run, '--out', tmp_path / 'r',
                    '--what', 'reconstructions', '--data_dir', src, check=False)
  assert proc.returncode == 2, proc.stderr
  assert 'a.jpg and a.png would both be written as a.png' in proc.stderr
  assert not os.path.exists(tmp_path / 'r')


@pytest.mark.e2e
def test_a_bad_source_file_is_named_before_any_work(tiny_run, loaded, lfw_dir, tmp_path):
  src = tmp_path / 'src'
  shutil.copytree(lfw_dir, str(src))
  (src / 'lfw_001.jpg').write_bytes(b'not an image at all')
  with pytest.raises(files.DataError, match=r'(?s)1 source image\(s\) in .*lfw_001\.jpg: '):
    export.export_reconstructions(loaded, str(tmp_path / 'r'), str(src),
                                  ['lfw_000.jpg', 'lfw_001.jpg'], steps=0)
  assert not os.path.exists(tmp_path / 'r')
  with pytest.raises(files.DataError, match=r'lfw_001\.jpg: '):
    loaded.load_images([str(src / 'lfw_000.jpg'), str(src / 'lfw_001.jpg')])
  with pytest.raises(files.DataError, match=r'gone\.png: '):
    loaded.load_images([str(src / 'gone.png')])
  proc = run_main('glo_tf1.cli.sample', '--run_dir', tiny_run, '--out', tmp_path / 'r',
                  '--what', 'reconstructions', '--data_dir', src, check=False)
  assert proc.returncode == 2 and 'lfw_001.jpg' in proc.stderr, proc.stderr
  assert 'Traceback' not in proc.stderr and not os.path.exists(tmp_path / 'r')
  # Issue 31: a JPEG corrupt in its entropy-coded data (TensorFlow decodes it to garbage).
  (src / 'lfw_001.jpg').write_bytes(corrupt_scan_jpeg(seed=1)[0])
  with pytest.raises(files.DataError, match=r'lfw_001\.jpg: corrupt JPEG data \(libjpeg: '):
    export.export_reconstructions(loaded, str(tmp_path / 'r'), str(src),
                                  ['lfw_000.jpg', 'lfw_001.jpg'], steps=0)
  assert not os.path.exists(tmp_path / 'r')


def test_checkpoint_zero_is_step_zero(tiny_run, tmp_path):
  """glo_tf1.load(run, checkpoint=0) loads step 0, not the newest; a step without a
  checkpoint is refused, listing the steps there are."""
  run_dir = str(tmp_path / 'run')
  shutil.copytree(tiny_run, run_dir)
  for name in os.listdir(run_dir):
    if name.startswith('model.ckpt-15.'):
      os.rename(os.path.join(run_dir, name),
                os.path.join(run_dir, name.replace('ckpt-15', 'ckpt-0')))
  with open(os.path.join(run_dir, 'checkpoint'), 'w') as f:
    f.write('model_checkpoint_path: "model.ckpt-30"\nall_model_checkpoint_paths: '
            '"model.ckpt-0"\nall_model_checkpoint_paths: "model.ckpt-30"\n')
  with glo_tf1.load(run_dir, checkpoint=0) as zero, glo_tf1.load(run_dir) as newest:
    assert zero.step == 0 and zero.checkpoint.endswith('model.ckpt-0')
    assert newest.step == 30 and not np.allclose(zero.codes(), newest.codes())
  with pytest.raises(rundir.RunDirError,
                     match=r'no checkpoint of step 7 \(its steps: 0, 30\)'):
    glo_tf1.load(run_dir, checkpoint=7)


def test_the_api_refuses_non_finite_and_out_of_range_input(loaded):
  z = loaded.codes()[:2]
  images = loaded.decode(z)
  refusals = [
      (lambda: loaded.reconstruct(np.full((2, 16, 16, 3), np.nan)), r'images hold 1536 NaN'),
      (lambda: loaded.decode(np.zeros((2, 8))), r'codes row 0 has norm 0.*sphere'),
      (lambda: loaded.decode(np.where(np.eye(2, 8) > 0, np.inf, z)), r'codes hold 2 NaN or '
       r'inf value\(s\) \(first in row 0\)'),
      (lambda: loaded.sample(2, noise=np.full((2, 8), np.nan)), r'noise hold 16 NaN'),
      (lambda: loaded.reconstruct(images, steps=-5), r'steps must be an integer >= 0, got -5'),
      (lambda: loaded.reconstruct(images, steps=2.5), r'steps must be an integer'),
      (lambda: loaded.sample(3, noise=np.zeros((5, 8))), r'noise must be \[n, 8\] = \[3, 8\]'),
      (lambda: loaded.sample(-1), r'n must be an integer >= 0, got -1'),
      (lambda: loaded.codes(indices=[10 ** 6]), r'indices must be integers in \[0, 200\).*'
       r'got 1000000'),
      (lambda: loaded.codes(indices=[-1]), r'got -1'),
      (lambda: loaded.codes(indices=[0.7]), r'got float64 values \(e.g. 0.7\)'),
      (lambda: loaded.batch_norm_check(-3), r'max_images must be an integer >= 0, got -3'),
      (lambda: loaded.sample(2, seed=-1), r'seed must be an integer in \[0, 2\*\*32\)'),
      (lambda: loaded.reconstruct(images, steps=0, seed=2 ** 40), r'seed must be'),
  ]
  for call, message in refusals:
    with pytest.raises(ValueError, match=message):
      call()
  assert loaded.sample(0).shape == (0, 16, 16, 3)
  assert loaded.codes(indices=[]).shape == (0, 8)
  proc = run_main('glo_tf1.cli.sample', '--run_dir', loaded.run_dir, '--out', 'unused',
                  '--seed=-1', check=False)
  assert proc.returncode == 2 and '--seed' in proc.stderr and not os.path.exists(
      os.path.join(ROOT, 'unused'))


def test_glo_sample_refuses_an_unusable_out_before_importing_tensorflow(tiny_run, tmp_path):
  afile = tmp_path / 'afile'
  afile.write_text('x')
  code = '''
import sys
from glo_tf1 import settings
from glo_tf1.cli import common, sample
for out in sys.argv[2:]:
  common.parse(sample.FLAGS, ['glo-sample', '--run_dir', sys.argv[1], '--out', out])
  try:
    sample.main(sample.FLAGS)
  except settings.ConfigError as e:
    print('refused:', e)
print('tensorflow' in sys.modules)
'''
  outs = [str(afile), str(afile / 'sub'), '/proc/glo_sample_test']
  proc = subprocess.run([sys.executable, '-c', code, tiny_run] + outs, capture_output=True,
                        text=True, timeout=60, env=dict(os.environ, PYTHONPATH=ROOT))
  lines = proc.stdout.splitlines()
  assert lines[-1] == 'False' and len(lines) == 4, proc.stdout + proc.stderr
  assert 'refused: --out %s: %s is a file, not a folder; give a folder' % (afile, afile) in lines[0]
  assert 'refused: --out %s: %s is a file, not a folder; choose another' % (
      afile / 'sub', afile) in lines[1]
  assert lines[2].startswith('refused: --out /proc/glo_sample_test: /proc is not writable (')


def test_the_export_records_its_checkpoint_and_a_step_change_suggests_it(tiny_run, loaded,
                                                                          tmp_path, monkeypatch):
  monkeypatch.setattr(export, 'CHUNK', 4)
  out = str(tmp_path / 'samples')
  export.export_samples(loaded, out, 4, 'unit')
  meta = io.read_json(os.path.join(out, export.EXPORT_META))
  assert meta['checkpoint'] == os.path.abspath(loaded.checkpoint)
  assert meta['checkpoint'].endswith('model.ckpt-30')
  with glo_tf1.load(tiny_run, checkpoint=15) as older:
    with pytest.raises(settings.ConfigError, match=r'(?s)checkpoint: .*model.ckpt-30\' -> '
                       r'.*model.ckpt-15\'.*step: 30 -> 15 \(--checkpoint 30 resumes'):
      export.export_samples(older, out, 4, 'unit')


def test_a_torn_newest_checkpoint_is_refused_naming_the_intact_one_and_a_missing_run_is_named(
    tiny_run, tmp_path):
  run_dir = str(tmp_path / 'run')
  shutil.copytree(tiny_run, run_dir)
  with open(os.path.join(run_dir, 'model.ckpt-30.data-00000-of-00001'), 'r+b') as f:
    f.truncate(100)
  with pytest.raises(rundir.RunDirError, match=r'(?s)model.ckpt-30 \(step 30\), does not '
                     r'read back.*step 15'):
    glo_tf1.load(run_dir)
  with glo_tf1.load(run_dir, checkpoint=15) as run:  # asked for: the older step
    assert run.step == 15
  with pytest.raises(rundir.RunDirError, match=r'run directory /nonexistent does not exist'):
    glo_tf1.load('/nonexistent')


def _fid_reference_uint8(paths, cfg):
  """The FID reference path's images (stats.real_statistics: pipelines.iterate_in_order,
  then inception's rounding of (x + 1) * 127.5 in float32), computed apart from the export."""
  from glo_tf1.compat import tf  # pylint: disable=import-outside-toplevel
  from glo_tf1.data import pipelines  # pylint: disable=import-outside-toplevel
  with tf.Graph().as_default(), tf.Session() as sess:
    x = np.concatenate([b for _, b in pipelines.iterate_in_order(
        sess, paths, 7, cfg['image_size'], cfg['tight_crop'], cfg['channels'])])
  return np.clip(np.round((x.astype(np.float32) + 1) * np.float32(127.5)), 0, 255).astype(
      np.uint8)


def test_references_are_the_images_fid_compares_against(loaded, tmp_path, monkeypatch):
  """Issue 30: the exported references, decoded, are the FID reference path's pixels for
  the same files (the subset glo-evaluate draws with the seed), at the run's size."""
  from glo_tf1.evaluation.fid import stats  # pylint: disable=import-outside-toplevel
  monkeypatch.setattr(export, 'CHUNK', 4)
  out = str(tmp_path / 'refs')
  export.export_references(loaded, out, 10, seed=5)
  chosen = [loaded.names[i] for i in stats.choose_subset(len(loaded.names), 10, 5)]
  pngs = export.output_names(chosen)
  assert sorted(pngs + [export.EXPORT_META]) == sorted(
      os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs)
  decoded = np.stack([np.asarray(Image.open(os.path.join(out, p)).convert('RGB'))
                      for p in pngs])
  size = loaded.cfg['image_size']
  assert decoded.shape == (10, size, size, 3)
  want = _fid_reference_uint8([os.path.join(loaded.info['data_dir'], n) for n in chosen],
                              loaded.cfg)
  np.testing.assert_array_equal(decoded, want)
  npz = str(tmp_path / 'refs.npz')
  export.export_references(loaded, npz, 10, seed=5)
  data = np.load(npz)
  assert list(data['names']) == chosen and str(data['meta_what']) == 'references'
  np.testing.assert_array_equal(data['images'], want)


@pytest.mark.e2e
def test_glo_sample_references(tiny_run, tmp_path):
  out = str(tmp_path / 'refs')
  proc = run_main('glo_tf1.cli.sample', '--run_dir', tiny_run, '--out', out, '--what',
                  'references', '--num=500')
  assert 'Wrote %s' % out in proc.stdout
  pngs = sorted(f for f in os.listdir(out) if f.endswith('.png'))
  assert len(pngs) == 200  # every training image: --num above their count
  assert Image.open(os.path.join(out, pngs[0])).size == (16, 16)
  proc = run_module('glo_tf1.cli.sample', '--run_dir', tiny_run, '--out',
                    str(tmp_path / 'x'), '--file_list', 'l.txt', '--data_dir', '.',
                    '--what', 'references', check=False)
  assert proc.returncode == 2 and '--file_list is for --what reconstructions' in proc.stderr
