using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.ManagedEngine.Formats;

/// <summary>
/// Seeded random weights of any shape, in memory, drawn in llama2.c's tensor order from <see cref="SplitMix64"/>: for a
/// shape llama2.c can hold they are exactly the weights <see cref="Llama2c.Llama2cCheckpointWriter.WriteRandom"/>
/// writes for the same seed. Matrices are uniform in ±1/sqrt(fan_in), RMSNorm weights are 1.
/// </summary>
internal static class RandomWeights
{
    /// <summary>Random weights of <paramref name="config"/>'s shape (its other settings are carried, not used).</summary>
    public static LlamaWeights Create(ModelConfig config, int seed)
    {
        if (ShapeRules.Validate(config) is { } error)
            throw new ArgumentException($"The model config is not a valid shape: {error}.", nameof(config));
        var memory = new WeightMemory();
        try
        {
            var rng = new SplitMix64(seed);
            int layers = config.LayerCount, dim = config.Dim, qDim = config.QueryDim, kvDim = config.KvDim, hidden = config.HiddenDim;
            WeightTensor Random(int length, int fanIn)
            {
                WeightTensor t = memory.Allocate(length);
                rng.FillUniform(t.MutableSpan(), 1f / MathF.Sqrt(fanIn));
                return t;
            }
            WeightTensor Ones(int length)
            {
                WeightTensor t = memory.Allocate(length);
                t.MutableSpan().Fill(1f);
                return t;
            }
            WeightTensor[] PerLayer(Func<WeightTensor> create) => Enumerable.Range(0, layers).Select(_ => create()).ToArray();

            WeightTensor embedding = Random(config.VocabSize * dim, dim);
            WeightTensor[] rmsAttention = PerLayer(() => Ones(dim));
            WeightTensor[] wq = PerLayer(() => Random(qDim * dim, dim));
            WeightTensor[] wk = PerLayer(() => Random(kvDim * dim, dim));
            WeightTensor[] wv = PerLayer(() => Random(kvDim * dim, dim));
            WeightTensor[] wo = PerLayer(() => Random(dim * qDim, qDim));
            WeightTensor[] rmsFfn = PerLayer(() => Ones(dim));
            WeightTensor[] w1 = PerLayer(() => Random(hidden * dim, dim));
            WeightTensor[] w2 = PerLayer(() => Random(dim * hidden, hidden));
            WeightTensor[] w3 = PerLayer(() => Random(hidden * dim, dim));
            WeightTensor rmsFinal = Ones(dim);
            WeightTensor classifier = config.SharedClassifier ? embedding : Random(config.VocabSize * dim, dim);
            var blocks = Enumerable.Range(0, layers).Select(l => new LayerWeights
            {
                RmsAttention = rmsAttention[l], Wq = wq[l], Wk = wk[l], Wv = wv[l], Wo = wo[l],
                RmsFfn = rmsFfn[l], W1 = w1[l], W2 = w2[l], W3 = w3[l],
            }).ToArray();
            return new LlamaWeights(config, embedding, blocks, rmsFinal, classifier, memory, $"random weights (seed {seed})");
        }
        catch
        {
            memory.Dispose();
            throw;
        }
    }
}
