"""Device set-up that must happen before TensorFlow runs its first op."""

from __future__ import annotations

import logging

import tensorflow as tf

from common.errors import UserError
from pipelines.training import cluster


def make_strategy(name: str = "default", logical_cpus: int = 0, cluster_timeout: float = 180.0):
    """Returns the tf.distribute strategy for training.

    Args:
        name: ``default`` (one device), ``mirrored`` (all GPUs, else all logical CPUs) or
            ``multi_worker`` (this process is one worker of the job in ``TF_CONFIG``).
        logical_cpus: when > 1, split the physical CPU into that many logical devices first,
            which is how ``mirrored`` is exercised on a machine without GPUs.
        cluster_timeout: multi_worker only: the bound on any wait for the other workers.
    """
    if logical_cpus > 1:
        cpus = tf.config.list_physical_devices("CPU")
        try:
            tf.config.set_logical_device_configuration(
                cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(logical_cpus)]
            )
        except RuntimeError as error:  # TensorFlow already initialised in this process.
            raise UserError(f"--logical-cpus must be set before TensorFlow starts: {error}") from None
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        logging.info("MirroredStrategy over %s", devices)
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multi_worker":
        return cluster.make_strategy(cluster_timeout)
    raise UserError(f"unknown strategy '{name}'; choose default, mirrored or multi_worker")
