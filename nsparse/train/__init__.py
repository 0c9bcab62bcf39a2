"""nsparse.train: the training loop (InfoNCE, FLOPS regularisation, distillation, checkpoints, dvclive).

Devices: the trainer uses CUDA when `torch.cuda.is_available()`, the CPU otherwise
(`train.threads` sets the CPU threads). Several GPUs: launch the stage under torchrun,
`torchrun --nproc_per_node=<gpus> -m stages.train v1`; each process takes its own
micro-batches (effective batch = batch_size x accumulation_steps x GPUs), gradients are
averaged before each step, and rank 0 validates, logs and checkpoints.
"""

from nsparse.train.trainer import RunPaths, Trainer, TrainSettings

__all__ = ["RunPaths", "TrainSettings", "Trainer"]
