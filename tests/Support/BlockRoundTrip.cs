using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.Tests.Support;

/// <summary>
/// The fp32 weights an int4 export in blocks of a given size computes with, written out independently of the exporter: each
/// row cut into blocks (the last one shorter when the row is), scale = (value of largest magnitude) / −8, codes 0..15 around
/// 8, decoded in place. A managed model whose matrices went through this computes what the export computes.
/// </summary>
internal static class BlockRoundTrip
{
    /// <summary>Replaces every row of the row-major <paramref name="matrix"/> (rows of <paramref name="cols"/>) by its round trip.</summary>
    public static void Symmetric4Bit(WeightTensor matrix, int cols, int block)
    {
        Span<float> values = matrix.MutableSpan();
        for (int rowStart = 0; rowStart < values.Length; rowStart += cols)
            for (int start = 0; start < cols; start += block)
            {
                Span<float> run = values.Slice(rowStart + start, Math.Min(block, cols - start));
                float extreme = 0;
                foreach (float v in run)
                    if (MathF.Abs(v) > MathF.Abs(extreme)) extreme = v;
                float scale = extreme / -8f, inverse = scale != 0 ? 1f / scale : 0f;
                for (int i = 0; i < run.Length; i++)
                    run[i] = (Math.Clamp((int)MathF.Round(run[i] * inverse) + 8, 0, 15) - 8) * scale;
            }
    }

    /// <summary>
    /// Every linear layer and the classifier of <paramref name="weights"/> through <see cref="Symmetric4Bit"/>. The classifier
    /// must be a matrix of its own: an export keeps the embedding table in fp32, so a shared one must not change.
    /// </summary>
    public static void AllMatrices(LlamaWeights weights, int block)
    {
        ModelConfig c = weights.Config;
        Assert.False(c.SharedClassifier, "the round trip would change the shared embedding table too");
        foreach (LayerWeights layer in weights.Layers)
        {
            foreach (WeightTensor m in new[] { layer.Wq, layer.Wk, layer.Wv, layer.W1, layer.W3 })
                Symmetric4Bit(m, c.Dim, block);
            Symmetric4Bit(layer.Wo, c.QueryDim, block);
            Symmetric4Bit(layer.W2, c.HiddenDim, block);
        }
        Symmetric4Bit(weights.Classifier, c.Dim, block);
    }
}
