namespace MlPipelines.ManagedEngine.Inference;

/// <summary>How the managed engine stores a session's keys and values.</summary>
public enum KvCacheFormat
{
    /// <summary>fp32: the parity reference, and the default.</summary>
    F32,

    /// <summary>
    /// IEEE fp16 (rounded to nearest even as keys and values are written): half the memory per position; the attention
    /// kernels read the halves directly (widened exactly, so attention computes exactly what it would on fp32 copies of
    /// the rounded cache).
    /// </summary>
    F16,
}
