"""nsparse.train: the training loop (InfoNCE, FLOPS regularisation, distillation, checkpoints, dvclive).

Devices: the trainer uses CUDA when `torch.cuda.is_available()`, the CPU otherwise
(`train.threads` sets the CPU threads). Several GPUs are not used by this loop; on a
multi-GPU machine, raise `train.batch_size` (one GPU holds far larger batches than
the CPU defaults) rather than expecting data parallelism.
"""

from nsparse.train.trainer import RunPaths, Trainer, TrainSettings

__all__ = ["RunPaths", "TrainSettings", "Trainer"]
