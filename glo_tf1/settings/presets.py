"""The presets: each one a complete set of settings (specs.py says what each accepts).

Presets:
  blog     the post's notebook, setting by setting (docs/reference/notebook-facts.md).
  paper    the paper's choices (SGD, separate learning rates, PCA init, stored-code
           projection, Laplacian L1 loss) on the blog's decoder.
  paper64  those choices with the generator the paper used, DCGAN's, at 64 x 64
           (model/decoders/dcgan.py).
  demo     a small, fast configuration for the embedded LFW faces on 2 CPU cores.
  mnist, fashion_mnist, svhn, cifar10, celeba64, celeba128
           the benchmarks (docs/benchmarks.md): paper64's choices on each data set.
"""

BLOG = {
    'preset': 'blog',
    # Data and model (docs/reference/notebook-facts.md, "Hyper-parameters").
    'image_size': 128,
    'channels': 3,                        # RGB, the post's; 1: grayscale (MNIST)
    'tight_crop': False,
    'latent_dims': 100,
    'batch_size': 32,                     # per tower
    'decoder': 'post',                    # model/decoders/: post.py, dcgan.py
    'decoder_filters': [256, 128, 64, 64, 32],
    'kernel_size': 5,                     # the post's text says 3; the code ran 5
    'normalizer': 'batch_norm',
    'batch_norm_decay': 0.99,
    'projection': 'sphere',               # z / ||z|| in the forward pass only
    'project_stored_codes': False,
    'codes_init': 'glorot',               # get_variable's default initializer
    'pca_image_size': 32,                 # ours: the PCA init's images (paper only)
    'loss': 'pairwise',                   # tf.losses.mean_pairwise_squared_error
    'lap1_levels': 4,
    # Optimisation.
    'optimizer': 'adam',
    'codes_optimizer': 'adam',
    'learning_rate': 1e-3,
    'codes_learning_rate': 1e-3,
    'num_steps': None,                    # unbounded, like the post
    # Towers and input.
    'num_gpus': 1,
    'tower_device': 'gpu',
    'variable_device': 'auto',            # the notebook's: the first GPU with GPU towers
    'precision': 'fp32',                  # the post's float32 (docs/gpus.md)
    'tf32': False,                        # true float32 on Ampere and newer too, as the post
    'gpu_memory': 'grow',                 # ours: shared machines (docs/gpus.md)
    'input_pipeline': 'fixed',
    'input_cache': 'off',                 # auto: decoded uint8 images in one file (cache.py)
    'num_samples': None,                  # the notebook's NUM_SAMPLES: first N files only
    'num_reader_threads': 4,
    'shuffle_capacity': 800,
    'min_after_dequeue': 100,
    # Logging and checkpoints (the notebook's cadence).
    'save_summaries_steps': 100,
    'image_summary_steps': 100,           # the notebook's SummarySaverHook (key glo): grids
    'save_images_steps': 30000,           # the notebook's SAVE_IMAGES_STEPS JPEG dumps
    'stretch_saved_images': False,        # scipy.misc.imsave's min-max stretch
    'save_checkpoint_secs': 600,
    'save_checkpoint_steps': None,
    'max_to_keep': 1,
    'log_every_steps': 100,
    'seed': 0,
    'deterministic': False,
}

PAPER = dict(
    BLOG,
    preset='paper',
    optimizer='sgd',
    codes_optimizer='sgd',
    learning_rate=1.0,                    # network
    codes_learning_rate=10.0,             # codes
    codes_init='pca',
    projection='ball',
    project_stored_codes=True,
    loss='lap1',
    max_to_keep=3,
)

# The paper's generator, DCGAN's at 64 x 64 (Bojanowski et al. used it for their 64 px
# experiments), with the paper's other choices. We follow the TensorFlow DCGAN code
# (carpedm20/DCGAN-tensorflow, gf_dim 64): 512 filters at 4 x 4 halving at each doubling
# (512, 256, 128, 64), 5 x 5 kernels (as the authors' Theano code; the PyTorch example uses
# 4 x 4: --kernel_size 4), batch-norm decay 0.9. model/decoders/dcgan.py has the details.
PAPER64 = dict(
    PAPER,
    preset='paper64',
    image_size=64,
    decoder='dcgan',
    decoder_filters=[512, 256, 128, 64],
    kernel_size=5,
    batch_norm_decay=0.9,
)

DEMO = dict(
    BLOG,
    preset='demo',
    image_size=32,
    latent_dims=32,
    batch_size=32,
    decoder_filters=[128, 64, 32],
    kernel_size=5,
    loss='mse',
    num_steps=3000,
    num_gpus=1,
    tower_device='cpu',
    num_reader_threads=2,
    shuffle_capacity=400,
    min_after_dequeue=100,
    save_summaries_steps=50,
    image_summary_steps=500,
    save_images_steps=1000,
    save_checkpoint_secs=60,
    save_checkpoint_steps=500,
    max_to_keep=2,
    log_every_steps=100,
)

# The benchmarks' presets: the paper's choices of PAPER64 (SGD 1 / 10, PCA initialisation,
# Lap1, ball projection, DCGAN's generator) on each data set's images. The GLO paper's
# experimental section was not within reach here, so each other value is GLANN's (Hoshen,
# Li, Malik, CVPR 2019; yedidh/glann configs/*.yaml: code size 64, batch 128, epochs) or
# ours; docs/presets.md gives the source of every value. 32 px: DCGAN's widths at
# gf_dim 64 (256, 128, 64) from our 4 x 4 start. num_steps: epochs x images / batch.
_SMALL = dict(PAPER64, image_size=32, latent_dims=64, batch_size=128,
              decoder_filters=[256, 128, 64], max_to_keep=2)
MNIST = dict(_SMALL, preset='mnist', channels=1,
             num_steps=93750)                  # GLANN: 200 epochs of 60,000 at 128
FASHION_MNIST = dict(MNIST, preset='fashion_mnist')  # GLANN's fashion.yaml = mnist.yaml
SVHN = dict(_SMALL, preset='svhn', num_steps=57233)  # ours: 100 epochs of 73,257 at 128
CIFAR10 = dict(_SMALL, preset='cifar10',
               num_steps=195313)               # GLANN: 500 epochs of 50,000 at 128
# CelebA at the paper's 64 and 128 px: 25 epochs of the 162,770 training images at 32 a
# step (ours; DCGAN-tensorflow's default epoch count); at 64 px the 108 x 108 central crop
# of DCGAN-tensorflow's celebA (--input_height 108 --crop), at 128 px the post's whole face.
CELEBA64 = dict(PAPER64, preset='celeba64', tight_crop=True, num_steps=127165)
CELEBA128 = dict(PAPER64, preset='celeba128', image_size=128, num_steps=127165)

PRESETS = {'blog': BLOG, 'paper': PAPER, 'paper64': PAPER64, 'demo': DEMO,
           'mnist': MNIST, 'fashion_mnist': FASHION_MNIST, 'svhn': SVHN, 'cifar10': CIFAR10,
           'celeba64': CELEBA64, 'celeba128': CELEBA128}
CORE_PRESETS = ('blog', 'paper', 'paper64', 'demo')  # the README's table; all: presets.md
DATASET_PRESETS = tuple(p for p in PRESETS if p not in CORE_PRESETS)
