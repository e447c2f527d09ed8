using System.Runtime.CompilerServices;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.WeightStorage;

namespace MlPipelines.Exporter.Llama;

/// <summary>
/// What the fused graph is built from: fp32 weights (<see cref="LlamaWeights"/>, with the GGUF file's stored blocks beside
/// them when there is one), or a GGUF model's matrices as stored (<see cref="StoredLlamaWeights"/>) with nothing widened
/// but the embedding table — so an int4 export of a Q4_0 file needs about the file's size in memory plus the table,
/// not four times the file.
/// </summary>
internal sealed class FusedModel : IDisposable
{
    private readonly float[]? _ownedEmbedding;   // pinned: the embedding initializer is a view of it

    private FusedModel(ModelConfig config, LlamaWeights? fp32, StoredLlamaWeights? stored, WeightTensor embedding, float[]? owned)
    {
        Config = config;
        Fp32 = fp32;
        Stored = stored;
        Embedding = embedding;
        _ownedEmbedding = owned;
    }

    public ModelConfig Config { get; }

    /// <summary>fp32 weights, when the export was given them.</summary>
    public LlamaWeights? Fp32 { get; }

    /// <summary>The matrices as a GGUF file stores them, when there is such a file.</summary>
    public StoredLlamaWeights? Stored { get; }

    /// <summary>The embedding table in fp32 <c>[vocab, dim]</c>.</summary>
    public WeightTensor Embedding { get; }

    /// <summary>Whether the classifier is the embedding table itself.</summary>
    public bool ClassifierIsEmbedding => Fp32 is { } w
        ? w.Classifier.Length == w.TokenEmbedding.Length && Unsafe.AreSame(ref Unsafe.AsRef(in w.Classifier.Span[0]), ref Unsafe.AsRef(in w.TokenEmbedding.Span[0]))
        : ReferenceEquals(Stored!.Classifier, Stored.Embedding);

    public WeightTensor RmsAttention(int layer) => Fp32?.Layers[layer].RmsAttention ?? Stored!.Layers[layer].RmsAttention;

    public WeightTensor RmsFfn(int layer) => Fp32?.Layers[layer].RmsFfn ?? Stored!.Layers[layer].RmsFfn;

    public WeightTensor RmsFinal => Fp32?.RmsFinal ?? Stored!.RmsFinal;

    /// <summary>fp32 weights, with the GGUF file's stored blocks (<paramref name="stored"/>) when the source is one.</summary>
    public static FusedModel FromFp32(LlamaWeights weights, StoredLlamaWeights? stored) =>
        new(weights.Config, weights, stored, weights.TokenEmbedding, null);

    /// <summary>A GGUF model's stored matrices; the embedding table is widened once into memory this object owns.</summary>
    public static unsafe FusedModel FromStored(StoredLlamaWeights stored)
    {
        ModelConfig c = stored.Config;
        var table = GC.AllocateUninitializedArray<float>(checked(c.VocabSize * c.Dim), pinned: true);
        for (int row = 0; row < c.VocabSize; row++)
            stored.Embedding.ReadRow(row, table.AsSpan(row * c.Dim, c.Dim));
        var view = new WeightTensor((float*)Unsafe.AsPointer(ref table[0]), table.Length);
        return new FusedModel(c, null, stored, view, table);
    }

    /// <summary>
    /// Ends the export's use of the widened table. The graph's embedding initializer is a raw view of it, so the table must
    /// stay reachable until the model file is written: a <c>using</c> around the export keeps this object (and the table)
    /// alive to that point, which this call marks.
    /// </summary>
    public void Dispose() => GC.KeepAlive(_ownedEmbedding);
}
