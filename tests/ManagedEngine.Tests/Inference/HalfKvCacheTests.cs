using MlPipelines.ManagedEngine.Inference;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Inference;

/// <summary>
/// Sessions with an fp16 KV cache: within fp16 rounding of the fp32 cache's logits on stories260K, prefill equal to
/// decode and independent of the thread count, half the cache memory.
/// </summary>
public class HalfKvCacheTests
{
    private static readonly int[] Tokens = [1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 403, 407, 261, 378, 432, 383, 286, 261];

    private static float[] Logits(TransformerModel model, int threads = 0, bool oneAtATime = false) =>
        SessionLogits.Of(model, Tokens, threads, oneAtATime);

    [Fact]
    public void Fp16_cache_stays_within_rounding_of_fp32_and_decode_equals_prefill()
    {
        using var half = ManagedModelLoader.LoadModel(TestPaths.Stories260K, kvCache: KvCacheFormat.F16);
        using var full = ManagedModelLoader.LoadModel(TestPaths.Stories260K);
        Assert.Equal(KvCacheFormat.F16, half.KvCache);
        float[] a = Logits(half, 1, oneAtATime: false), b = Logits(full, 1, oneAtATime: false);
        double worst = a.Zip(b).Max(p => Math.Abs(p.First - p.Second)), scale = b.Max(Math.Abs);
        // fp16 keeps 11 significant bits (relative rounding 2^-12 ≈ 2.4e-4 per cached value); through five layers the
        // logits move by a few times that, far below the spread between tokens.
        Assert.InRange(worst / scale, 1e-7, 5e-3);
        Assert.Equal(a, Logits(half, 2, oneAtATime: true));
        Assert.Equal(TransformerSession.KvCacheBytes(half.Config) / 2, TransformerSession.KvCacheBytes(half.Config, KvCacheFormat.F16));
    }
}
