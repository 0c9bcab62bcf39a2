"""nsparse.train: the training loop (InfoNCE, FLOPS regularisation, distillation, checkpoints, dvclive).

Devices: the trainer uses CUDA when `torch.cuda.is_available()`, the CPU otherwise
(`train.threads` sets the CPU threads). Several GPUs are not used yet (one process,
one device); on a GPU, raise `train.optimizer.batch_size` instead.
"""

from nsparse.train.trainer import RunPaths, Trainer

__all__ = ["RunPaths", "Trainer"]
