"""CycleGAN as TensorFlow's tutorial trains it (https://www.tensorflow.org/tutorials/generative/cyclegan), with
tensorflow_examples' pix2pix U-Net generator and PatchGAN discriminator
(https://github.com/tensorflow/examples/blob/master/tensorflow_examples/models/pix2pix/pix2pix.py).
"""

# tf.keras LeakyReLU's default slope; pix2pix.py never sets it (the PyTorch CycleGAN code uses 0.2).
LEAKY_SLOPE = 0.3
# The tutorial's cycle-consistency weight; its identity loss uses half of it.
LAMBDA = 10.0
# The tutorial's four optimizers: Adam(2e-4, beta_1=0.5), beta_2 Keras's default.
LEARNING_RATE = 2e-4
BETAS = (0.5, 0.999)

# U-Net encoder, one (filters, instance norm?) per block; each block halves H and W: 256 -> 1.
DOWN_STACK = [(64, False), (128, True), (256, True), (512, True), (512, True), (512, True), (512, True), (512, True)]
# U-Net decoder, one (filters, dropout?) per block; each doubles H and W (1 -> 128) before the skip concatenation.
UP_STACK = [(512, True), (512, True), (512, True), (512, False), (256, False), (128, False), (64, False)]
# PatchGAN: the first three encoder blocks (256 -> 32), then two stride-1 convolutions (-> 31 -> 30).
DISCRIMINATOR_DOWN_STACK = DOWN_STACK[:3]
