namespace MlPipelines.ManagedEngine.Model;

/// <summary>
/// The largest shapes the engine accepts, whatever the format: readers check every header field against these
/// before sizing anything by it (see <see cref="ShapeRules"/>), so a hostile header cannot drive an allocation.
/// They are far above any LLaMA model that exists (Llama 3 405B: dim 16384, hidden 53248, 126 layers, vocab 128256).
/// </summary>
public static class ModelLimits
{
    /// <summary>Largest model width (<c>dim</c>, <c>hidden_size</c>).</summary>
    public const int MaxDim = 65536;

    /// <summary>Largest feed-forward width.</summary>
    public const int MaxHiddenDim = 262144;

    /// <summary>Most transformer layers.</summary>
    public const int MaxLayers = 1024;

    /// <summary>Largest vocabulary.</summary>
    public const int MaxVocab = 4 * 1024 * 1024;

    /// <summary>Longest context.</summary>
    public const int MaxSeqLen = 1024 * 1024;
}
