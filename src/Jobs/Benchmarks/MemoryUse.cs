namespace MlPipelines.Jobs.Benchmarks;

/// <summary>
/// One engine and thread count's model as opened for a benchmark: how the engine holds the weights, and the process's
/// resident set (see <see cref="ProcessMemory"/>) read right before and right after opening it, outside the load timing.
/// </summary>
/// <param name="Weights">The weights as the engine computes with them: <c>F32</c>, <c>F32 (converted on load)</c> (F16, BF16,
/// Q8_0 or mixed tensors widened to fp32), <c>Q8_0</c> (a llama2.c int8 file) or <c>Q8_0 (quantised on load)</c>; for
/// weights the engine uses as stored, the precision it reports (<c>EngineDescription.Precision</c>).</param>
/// <param name="Requantized">True when the engine re-quantised the weights on load (<c>--quantize q8_0</c>).</param>
/// <param name="ResidentBeforeBytes">The process's resident set right before opening, in bytes.</param>
/// <param name="ResidentAfterBytes">The process's resident set right after opening (before any session or run), in bytes.
/// Memory-mapped weights (fp32 llama2.c, safetensors and GGUF tensors) become resident only as they are first read,
/// so for them this is mostly the runtime's own memory; the peak during the runs shows them.</param>
/// <param name="KvCacheBytes">The KV cache each session allocates when it is created (managed engine: layers × 2 × context ×
/// kv_dim × 4 bytes); null for ONNX Runtime, whose session grows its cache with the sequence.</param>
public sealed record ModelLoad(string Weights, bool Requantized, long ResidentBeforeBytes, long ResidentAfterBytes, long? KvCacheBytes)
{
    /// <summary>
    /// The model's share: what opening it added to the resident set (after − before), in bytes. When several engines or
    /// thread counts are opened in one process each row has its own; a file mapped twice is counted twice.
    /// </summary>
    public long ModelBytes => ResidentAfterBytes - ResidentBeforeBytes;
}

/// <summary>The highest resident set of the process while one engine and thread count ran its measured runs.</summary>
/// <param name="Bytes">The peak, in bytes: the largest over the runs of Linux <c>VmHWM</c> after the run, having reset it
/// before the run (<see cref="ProcessMemory.TryResetPeak"/>); every model open at the time counts.</param>
/// <param name="SinceProcessStart">True when the peak could not be reset (not Linux, or <c>/proc/self/clear_refs</c>
/// refused the write): <see cref="Bytes"/> is then the process's peak since it started (on Windows and macOS
/// <c>Process.PeakWorkingSet64</c>), loading and warm-up included.</param>
public sealed record PeakMemory(long Bytes, bool SinceProcessStart);
