namespace MlPipelines.ManagedEngine.Model;

/// <summary>
/// What runs a model, as the model itself reports it: callers (parity reports, benchmarks, jobs, transforms) print or
/// record this instead of switching on an engine's concrete type.
/// </summary>
public sealed record EngineDescription
{
    /// <summary>The engine: <c>managed</c> or <c>onnxruntime</c>.</summary>
    public required string Engine { get; init; }

    /// <summary>Where it computes: the managed engine's instruction set (e.g. <c>cpu (avx2+fma)</c>) or ONNX Runtime's
    /// active execution provider.</summary>
    public required string Provider { get; init; }

    /// <summary>The precision of the weights as the engine computes with them (e.g. <c>fp32</c>, <c>int8 (Q8_0)</c>).</summary>
    public required string Precision { get; init; }

    /// <summary>Threads per session (0: the engine's default).</summary>
    public required int Threads { get; init; }

    /// <summary>Where the model came from: the checkpoint file or directory, or the export directory.</summary>
    public required string Model { get; init; }

    /// <summary>Something the user should know about how the engine was set up (e.g. a provider fallback), or null.</summary>
    public string? Notice { get; init; }

    /// <summary>Whether the model returns final hidden states (embeddings); false for a logits-only ONNX graph.</summary>
    public bool HasHiddenStates { get; init; } = true;

    /// <inheritdoc />
    public override string ToString() =>
        $"{Engine} [{Provider}, {Precision}, {(Threads == 0 ? "default" : Threads.ToString(System.Globalization.CultureInfo.InvariantCulture))} threads] {Model}";
}
