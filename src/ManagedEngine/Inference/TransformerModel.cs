using MlPipelines.ManagedEngine.Kernels;
using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.ManagedEngine.Inference;

/// <summary>
/// The managed engine's model: fp32 weights (memory-mapped, never copied) plus the tables every
/// session shares. Create one per model and as many sessions as there are concurrent sequences.
/// </summary>
public sealed class TransformerModel : ILanguageModel
{
    /// <summary>Wraps loaded weights; the model owns them and disposes them with itself.</summary>
    public TransformerModel(LlamaWeights weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        Weights = weights;
        Config = weights.Config;
        Rope = new RopeTable(Config.HeadDim, Config.MaxSequenceLength, Config.RopeTheta);
    }

    /// <inheritdoc />
    public ModelConfig Config { get; }

    /// <summary>The weights the forward pass reads.</summary>
    public LlamaWeights Weights { get; }

    internal RopeTable Rope { get; }

    /// <inheritdoc />
    public IModelSession CreateSession() => new TransformerSession(this);

    /// <summary>Creates a session with its concrete type (same as <see cref="CreateSession"/>).</summary>
    public TransformerSession CreateTransformerSession() => new(this);

    /// <inheritdoc />
    public void Dispose() => Weights.Dispose();
}
