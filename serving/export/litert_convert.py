"""Keras model → LiteRT flatbuffer (``.tflite``) at one of three precisions, LiteRT's built-in ops only.

- ``float32``: the model as it is.
- ``float16``: weights stored as float16 (half the file), computed in float32 on a CPU.
- ``int8``: weights and activations int8 (``TFLITE_BUILTINS_INT8``: every op has an int8 kernel or the
  conversion fails), calibrated on the representative samples it is given; inputs and outputs stay
  as they are (uint8 frames, float32 states and probabilities), quantised and dequantised inside.

``TFLiteConverter.from_keras_model`` is used on purpose: it traces the model with ``training=False``
(a ``keras.applications`` backbone otherwise runs its BatchNorm in training mode in Keras 3.15), and the
same model through ``from_concrete_functions`` fails int8 calibration on ``READ_VARIABLE``. A model that
needs any op outside LiteRT's built-in kernels (TensorFlow's own kernels through the Flex delegate, or a
custom op) is refused with the ops' names: a file that runs only with Flex is not what a device runs.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable

from common import quiet
from common.errors import UserError

PRECISIONS = ("float32", "float16", "int8")


def file_name(precision: str) -> str:
    return f"model_{precision}.tflite"


def unsupported_ops(error: Exception) -> list[str]:
    """The TensorFlow ops a ``ConverterError`` says LiteRT's built-in kernels lack (e.g. ``tf.TensorListReserve``)."""
    names = {item.operator.name for item in getattr(error, "errors", []) if item.operator.name}
    if not names:  # older converters: only the message names them
        names = set(re.findall(r"'(tf\.\w+)' op is neither a custom op nor a flex op", str(error)))
        names |= set(re.findall(r"\b(tf\.\w+)\(", str(error).split("Details:", 1)[-1]))
    return sorted(names)


def convert(
    model, precision: str, representative: Callable[[], Iterable[dict]] | None = None, what: str = "the model"
) -> bytes:
    """The ``.tflite`` bytes of ``model`` at ``precision``.

    Args:
        model: a Keras model with fixed input shapes (batch 1).
        precision: one of :data:`PRECISIONS`.
        representative: for ``int8``: returns an iterable of ``{input name: array}`` samples.
        what: how errors name the model (``the video model``).

    Raises:
        UserError: the model needs ops outside LiteRT's built-in set (named), or int8 without samples.
    """
    import tensorflow as tf  # deferred: the callers check their input before TensorFlow loads

    if precision not in PRECISIONS:
        raise UserError(f"precision must be one of {', '.join(PRECISIONS)}, got '{precision}'")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if precision == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif precision == "int8":
        if representative is None:
            raise UserError("int8 needs calibration samples")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    try:
        # Off the terminal: Keras's "Saved artifact at ..." listing, the quantiser's settings line, and
        # the calibrator's warning that it runs on tf.lite.Interpreter (the converter's business).
        with quiet.native_output_silenced(1, 2), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return converter.convert()
    except Exception as error:  # noqa: BLE001 - ConverterError, and the quantiser's RuntimeError
        ops = unsupported_ops(error)
        if ops:
            raise UserError(
                f"{what} needs TensorFlow ops that LiteRT's built-in kernels lack ({', '.join(ops)}): it would run "
                "only with the Flex delegate, so nothing was exported; build the device model from built-in ops"
            ) from None
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise RuntimeError(f"converting {what} to LiteRT {precision} failed: {reason}") from error
