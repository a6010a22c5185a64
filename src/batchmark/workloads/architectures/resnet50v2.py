"""ResNet50V2 (He et al. 2016, "Identity Mappings in Deep Residual Networks", https://arxiv.org/abs/1603.05027) as
``keras.applications.ResNet50V2`` lays it out: pre-activation bottleneck blocks, the stride on each stack's last
block.
"""

# Keras's BatchNormalization epsilon in every ResNetV2 layer (PyTorch's default is 1e-5).
BN_EPS = 1.001e-5

# One row per stack: (name, bottleneck width f, blocks, stride of the stack's last block).
# Blocks output 4f channels. The last stack keeps the resolution, so the network downsamples 32x in all.
RESNET50V2_STACKS = (
    ("conv2", 64, 3, 2),
    ("conv3", 128, 4, 2),
    ("conv4", 256, 6, 2),
    ("conv5", 512, 3, 1),
)
STEM_CHANNELS = 64
