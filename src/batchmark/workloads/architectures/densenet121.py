"""DenseNet121 (Huang et al. 2017, https://arxiv.org/abs/1608.06993) as ``keras.applications.DenseNet121`` lays it
out: a 7x7 stem, four dense blocks, transitions between them, BN + ReLU + global average pool + classifier.
"""

# Keras's BatchNormalization epsilon in every DenseNet layer (PyTorch's default is 1e-5).
BN_EPS = 1.001e-5
# Channels each dense layer appends; its 1x1 bottleneck is 4x as wide (the paper's DenseNet-B).
GROWTH_RATE = 32
# Transitions keep this fraction of the channels (the paper's DenseNet-C, theta = 0.5).
REDUCTION = 0.5
STEM_CHANNELS = 64
# Dense layers per block; the name says the depth: 2 * (6 + 12 + 24 + 16) convs + stem + 3 transitions + fc.
DENSENET121_BLOCKS = (6, 12, 24, 16)
