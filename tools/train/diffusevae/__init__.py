"""DiffuseVAE trainer: stage-1 VAE, stage-2 DDPM refiner, FID-FMNIST classifier, ONNX export."""
